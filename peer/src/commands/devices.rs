//! `peercall devices`: what this machine has to call with. Cameras with each
//! format, size and frame rate they offer (marking what peercall can send
//! and how), so a user can pick `--video`, `--size` and `--fps`; sound cards
//! with their PCM devices and the `--audio-in`/`--audio-out` names to use.

use crate::devices::camera::{cameras, CameraInfo};
use crate::devices::sound::{cards, CardInfo};
use peercall::media::capture::PixelFormat;

/// The camera part of the listing, one line a camera and a line a format.
pub fn camera_lines(cams: &[CameraInfo]) -> Vec<String> {
    let mut out = Vec::new();
    if cams.is_empty() {
        out.push(
            "cameras: none (no /dev/video* capture device); --video test sends a test pattern"
                .into(),
        );
        return out;
    }
    out.push("cameras:".into());
    for cam in cams {
        out.push(format!(
            "  {} ({}, driver {}): --video v4l2:{}",
            cam.path.display(),
            cam.card,
            cam.driver,
            cam.path.display()
        ));
        for f in &cam.formats {
            let how = match f.usable {
                Some(PixelFormat::Mjpeg) => "sent as it is",
                Some(_) => "encoded to JPEG",
                None => "not used by peercall",
            };
            let mut sizes: Vec<String> = f
                .sizes
                .iter()
                .map(|s| {
                    let fps: Vec<String> = s.fps.iter().map(u32::to_string).collect();
                    if fps.is_empty() {
                        format!("{}x{}", s.width, s.height)
                    } else {
                        format!("{}x{}@{}", s.width, s.height, fps.join("/"))
                    }
                })
                .collect();
            if let Some(r) = &f.range {
                sizes.push(r.clone());
            }
            out.push(format!(
                "    {} {} ({how}): {}",
                f.fourcc,
                f.description,
                if sizes.is_empty() {
                    "no sizes listed".to_string()
                } else {
                    sizes.join(" ")
                }
            ));
        }
    }
    out
}

/// The sound part of the listing: a line a card and a line a PCM device.
pub fn sound_lines(cards: &[CardInfo]) -> Vec<String> {
    if cards.is_empty() {
        return vec![
            "sound cards: none; --audio-in tone and --audio-out null stand in, or --no-audio"
                .into(),
        ];
    }
    let mut out = vec!["sound cards (alsa:default is the system's default device):".into()];
    for c in cards {
        out.push(format!("  card {} {} ({})", c.index, c.id, c.name));
        for p in &c.pcms {
            let dirs = match (p.capture, p.playback) {
                (true, true) => format!("--audio-in/--audio-out alsa:{}", p.plughw),
                (true, false) => format!("--audio-in alsa:{}", p.plughw),
                (false, true) => format!("--audio-out alsa:{}", p.plughw),
                (false, false) => "no PCM streams".into(),
            };
            out.push(format!("    device {} {}: {dirs}", p.device, p.name));
        }
    }
    out
}

/// Prints the listing; always exits 0 (no devices is an answer, not an error).
pub fn run() -> u8 {
    for line in camera_lines(&cameras())
        .into_iter()
        .chain(sound_lines(&cards()))
    {
        println!("{line}");
    }
    crate::exit::OK
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::camera::{FormatInfo, SizeInfo};

    #[test]
    fn lists_formats_with_what_peercall_does_with_them() {
        assert!(camera_lines(&[])[0].contains("none"));
        let cam = CameraInfo {
            path: "/dev/video0".into(),
            card: "Webcam C270".into(),
            driver: "uvcvideo".into(),
            formats: vec![
                FormatInfo {
                    fourcc: "MJPG".into(),
                    description: "Motion-JPEG".into(),
                    usable: Some(PixelFormat::Mjpeg),
                    sizes: vec![SizeInfo {
                        width: 640,
                        height: 480,
                        fps: vec![30, 15],
                    }],
                    range: None,
                },
                FormatInfo {
                    fourcc: "NV12".into(),
                    description: "Y/UV 4:2:0".into(),
                    usable: None,
                    sizes: Vec::new(),
                    range: Some("16x16 to 1920x1080 in steps of 2x2".into()),
                },
            ],
        };
        let lines = camera_lines(&[cam]);
        assert_eq!(
            lines[1],
            "  /dev/video0 (Webcam C270, driver uvcvideo): --video v4l2:/dev/video0"
        );
        assert_eq!(
            lines[2],
            "    MJPG Motion-JPEG (sent as it is): 640x480@30/15"
        );
        assert!(lines[3].contains("not used by peercall"));
        assert!(lines[3].contains("16x16 to 1920x1080"));
    }

    #[test]
    fn sound_cards_are_listed_with_the_names_to_give() {
        use crate::devices::sound::PcmInfo;
        assert!(sound_lines(&[])[0].contains("none"));
        let card = CardInfo {
            index: 1,
            id: "Headset".into(),
            name: "USB Headset".into(),
            pcms: vec![PcmInfo {
                device: 0,
                name: "USB Audio".into(),
                playback: true,
                capture: false,
                hw: "hw:CARD=Headset,DEV=0".into(),
                plughw: "plughw:CARD=Headset,DEV=0".into(),
            }],
        };
        let lines = sound_lines(&[card]);
        assert_eq!(lines[1], "  card 1 Headset (USB Headset)");
        assert_eq!(
            lines[2],
            "    device 0 USB Audio: --audio-out alsa:plughw:CARD=Headset,DEV=0"
        );
    }
}
