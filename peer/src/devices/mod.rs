//! The hardware a peer calls with: V4L2 cameras ([`camera`]) and ALSA sound
//! cards ([`sound`]). These modules open, configure, list and read or write
//! the devices; what to send and how to play it belongs to `media`.

pub mod camera;
pub mod sound;
