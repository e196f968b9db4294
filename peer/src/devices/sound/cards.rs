//! The machine's sound cards and their PCM devices, as `peercall devices`
//! lists them and the run command looks for a default microphone and speaker.

use super::{Stream, MAX_CARDS, MAX_PCM_DEVICES};
use alsa::ctl::{Ctl, DeviceIter};

/// One sound card and its PCM devices, for `peercall devices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInfo {
    /// The card number, as in `hw:1,0`.
    pub index: i32,
    /// The card's id, as in `hw:CARD=Loopback,DEV=0` (stable across reboots,
    /// unlike the number).
    pub id: String,
    /// The card's name as the driver gives it.
    pub name: String,
    /// Its PCM devices, by device number.
    pub pcms: Vec<PcmInfo>,
}

/// One PCM device of a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcmInfo {
    /// The device number, as in `hw:1,0`.
    pub device: u32,
    /// The device's name as the driver gives it.
    pub name: String,
    /// Whether it plays sound (a speaker).
    pub playback: bool,
    /// Whether it records sound (a microphone).
    pub capture: bool,
    /// The ALSA name of the device itself, e.g. `hw:CARD=Loopback,DEV=0`:
    /// only what the hardware takes, nothing converted.
    pub hw: String,
    /// The ALSA name with alsa-lib's conversions in front, e.g.
    /// `plughw:CARD=Loopback,DEV=0`: any rate, channels and format.
    pub plughw: String,
}

/// Every sound card and its PCM devices; empty when there is none (or ALSA
/// cannot be asked). Cards that cannot be opened are left out.
pub fn cards() -> Vec<CardInfo> {
    let mut found = Vec::new();
    // Stop at the first error: the iterator would only repeat it.
    for card in alsa::card::Iter::new()
        .take(MAX_CARDS)
        .map_while(Result::ok)
    {
        if let Some(info) = probe_card(&card) {
            found.push(info);
        }
    }
    found
}

/// What the driver reports for one PCM device in one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcmProbe {
    /// The device number.
    pub device: u32,
    /// The direction it was found for.
    pub stream: Stream,
    /// The driver's name for it.
    pub name: String,
}

fn probe_card(card: &alsa::Card) -> Option<CardInfo> {
    // The control device reports each PCM and its directions from the driver
    // itself; alsa-lib's name hints would depend on its configuration files.
    let ctl = Ctl::from_card(card, false).ok()?;
    let info = ctl.card_info().ok()?;
    let mut probes = Vec::new();
    for device in DeviceIter::new(&ctl).take(MAX_PCM_DEVICES) {
        let Ok(device) = u32::try_from(device) else {
            continue;
        };
        for stream in [Stream::Playback, Stream::Capture] {
            if let Ok(pcm) = ctl.pcm_info(device, 0, stream.direction()) {
                let name = pcm.get_name().unwrap_or_default().to_string();
                probes.push(PcmProbe {
                    device,
                    stream,
                    name,
                });
            }
        }
    }
    Some(card_info(
        card.get_index(),
        info.get_id().unwrap_or_default(),
        info.get_name().unwrap_or_default(),
        &probes,
    ))
}

/// Gathers what was found on one card into a [`CardInfo`]: one entry per
/// device number, in order, with the directions it was found for.
pub fn card_info(index: i32, id: &str, name: &str, probes: &[PcmProbe]) -> CardInfo {
    // The id names the card in ALSA names; a card without one (never seen)
    // still has its number.
    let card = if id.is_empty() {
        index.to_string()
    } else {
        id.to_string()
    };
    let mut pcms: Vec<PcmInfo> = Vec::new();
    for probe in probes {
        let at = match pcms.iter().position(|p| p.device == probe.device) {
            Some(at) => at,
            None => {
                pcms.push(PcmInfo {
                    device: probe.device,
                    name: String::new(),
                    playback: false,
                    capture: false,
                    hw: format!("hw:CARD={card},DEV={}", probe.device),
                    plughw: format!("plughw:CARD={card},DEV={}", probe.device),
                });
                pcms.len() - 1
            }
        };
        let pcm = &mut pcms[at];
        if pcm.name.is_empty() {
            pcm.name = probe.name.clone();
        }
        match probe.stream {
            Stream::Playback => pcm.playback = true,
            Stream::Capture => pcm.capture = true,
        }
    }
    pcms.sort_by_key(|p| p.device);
    CardInfo {
        index,
        id: id.to_string(),
        name: name.to_string(),
        pcms,
    }
}

/// When `device` names a card (`hw:9,0`, `plughw:1`, `hw:CARD=Headset,DEV=0`)
/// that is not among `cards`, the card as named (`9`, `Headset`); `None`
/// for a card that is there and for names that pick no card themselves
/// (`default`, `pulse`, `dmix`), which only opening can judge.
pub fn missing_card<'a>(device: &'a str, cards: &[CardInfo]) -> Option<&'a str> {
    let (_, args) = device.split_once(':')?;
    let first = args.split(',').next()?.trim();
    let card = first.strip_prefix("CARD=").unwrap_or(first);
    if card.is_empty() || first.contains('=') && !first.starts_with("CARD=") {
        return None;
    }
    let present = cards
        .iter()
        .any(|c| c.id == card || card.parse::<i32>().is_ok_and(|n| n == c.index));
    (!present).then_some(card)
}

/// What cards there are, for a message: `this machine has none`, or
/// `the cards are 0 (PCH), 1 (Headset)`.
pub fn cards_there(cards: &[CardInfo]) -> String {
    if cards.is_empty() {
        return "this machine has none".into();
    }
    let list: Vec<String> = cards
        .iter()
        .map(|c| format!("{} ({})", c.index, c.id))
        .collect();
    format!("the cards are {}", list.join(", "))
}
