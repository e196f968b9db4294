//! The window's text: the public-domain 8x8 bitmap font (font8x8) in one
//! texture, each character drawn as a scaled copy of its cell. No font
//! file and no font library on the board; a status line costs a few dozen
//! small copies.

use sdl2::pixels::{Color, PixelFormatEnum};
use sdl2::rect::Rect;
use sdl2::render::{BlendMode, Canvas, Texture, TextureCreator};
use sdl2::video::{Window, WindowContext};

/// Pixels per side of a glyph in the font.
const CELL: u32 = 8;
/// Characters in the atlas: ASCII; the rest show as '?'.
const GLYPHS: u32 = 128;
/// How much the glyphs are enlarged: 16 px text reads at arm's length.
pub const SCALE: u32 = 2;
/// Width of one character on screen.
pub const CHAR_W: u32 = CELL * SCALE;

/// The font, uploaded once.
pub struct Font<'a> {
    atlas: Texture<'a>,
}

impl<'a> Font<'a> {
    /// Uploads the glyphs: white where set, transparent elsewhere, so the
    /// texture's colour modulation picks the text's colour.
    pub fn new(creator: &'a TextureCreator<WindowContext>) -> Result<Font<'a>, String> {
        let (w, h) = (GLYPHS * CELL, CELL);
        let mut pixels = vec![0u8; (w * h * 4) as usize];
        for (g, rows) in font8x8::legacy::BASIC_LEGACY.iter().enumerate() {
            for (y, bits) in rows.iter().enumerate() {
                for x in 0..CELL as usize {
                    if bits >> x & 1 == 1 {
                        let i = ((y * w as usize) + g * CELL as usize + x) * 4;
                        pixels[i..i + 4].copy_from_slice(&[255; 4]);
                    }
                }
            }
        }
        let mut atlas = creator
            .create_texture_static(PixelFormatEnum::ABGR8888, w, h)
            .map_err(|e| e.to_string())?;
        atlas
            .update(None, &pixels, (w * 4) as usize)
            .map_err(|e| e.to_string())?;
        atlas.set_blend_mode(BlendMode::Blend);
        Ok(Font { atlas })
    }

    /// Draws `text` from (`x`, `y`) in `color`, cut at `max_w` pixels.
    pub fn draw(
        &mut self,
        canvas: &mut Canvas<Window>,
        text: &str,
        x: i32,
        y: i32,
        color: Color,
        max_w: u32,
    ) {
        self.atlas.set_color_mod(color.r, color.g, color.b);
        let fits = (max_w / CHAR_W) as usize;
        for (i, c) in text.chars().take(fits).enumerate() {
            let g = if c.is_ascii() { c as u32 } else { '?' as u32 };
            let src = Rect::new((g * CELL) as i32, 0, CELL, CELL);
            let dst = Rect::new(x + (i as u32 * CHAR_W) as i32, y, CHAR_W, CHAR_W);
            if let Err(e) = canvas.copy(&self.atlas, src, dst) {
                log::debug!("text not drawn: {e}");
                return;
            }
        }
    }

    /// Draws `text` centred on `cx`.
    pub fn draw_centred(
        &mut self,
        canvas: &mut Canvas<Window>,
        text: &str,
        cx: i32,
        y: i32,
        color: Color,
        max_w: u32,
    ) {
        let w = (text.chars().count() as u32 * CHAR_W).min(max_w);
        self.draw(canvas, text, cx - w as i32 / 2, y, color, max_w);
    }
}
