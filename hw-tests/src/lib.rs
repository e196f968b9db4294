//! peercall's hardware tests live in `tests/`: each needs a real device (a
//! V4L2 camera, an ALSA card) and is skipped with a message naming what is
//! missing when the machine has none. `make hw-test` runs them on a board;
//! `make hw-test-vm` runs them in a VM whose kernel has the vivid camera,
//! the snd-aloop sound card and a v4l2loopback MJPEG camera.
