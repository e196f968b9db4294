/* The one header the bindings are generated from: libsrtp2's public API as
 * the linked library has it (build.rs puts the copy's srtp.h, or finds the
 * system's), so the layout of srtp_policy_t is always the one of the library
 * we link. */
#include <srtp2/srtp.h>
