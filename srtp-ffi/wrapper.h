/* The one header the bindings are generated from: libsrtp2's public API as
 * installed by the system (libsrtp2-dev), so the layout of srtp_policy_t is
 * always the one of the library we link. */
#include <srtp2/srtp.h>
