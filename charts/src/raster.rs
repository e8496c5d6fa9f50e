//! PNG rendering on the server: plotters' bitmap backend into a buffer, encoded in memory.

use std::sync::Once;

use plotters::prelude::*;

use crate::TimeChart;

/// DejaVu Sans (Bitstream Vera licence, see `fonts/LICENSE-DejaVu.txt`): bitmaps need glyphs,
/// and a font built in makes the PNG look the same on every machine.
static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// Makes the built-in font the `sans-serif` family. With a font engine compiled in, every
/// backend measures text with it, so this runs before any drawing.
pub(crate) fn register_fonts() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            if plotters::style::register_font("sans-serif", style, FONT).is_err() {
                panic!("the built-in font does not parse");
            }
        }
    });
}

/// Why a PNG could not be made.
#[derive(Debug)]
pub struct RasterError(String);

impl std::fmt::Display for RasterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rendering the PNG failed: {}", self.0)
    }
}

impl std::error::Error for RasterError {}

/// Renders `chart` as a PNG of the given size.
pub fn png(chart: &TimeChart, width: u32, height: u32) -> Result<Vec<u8>, RasterError> {
    render(width, height, |area| {
        crate::draw(area, chart).map_err(|e| e.to_string())
    })
}

/// Renders `charts` one above the other as one PNG.
pub fn png_stack(charts: &[TimeChart], width: u32, height: u32) -> Result<Vec<u8>, RasterError> {
    render(width, height, |area| {
        crate::draw_stack(area, charts).map_err(|e| e.to_string())
    })
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn render(
    width: u32,
    height: u32,
    paint: impl FnOnce(&Area<'_>) -> Result<(), String>,
) -> Result<Vec<u8>, RasterError> {
    register_fonts();
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        paint(&area).map_err(RasterError)?;
    }
    let mut out = Vec::with_capacity(rgb.len() / 8);
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder
            .write_header()
            .map_err(|e| RasterError(e.to_string()))?;
        writer
            .write_image_data(&rgb)
            .map_err(|e| RasterError(e.to_string()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{palette, Mark, Series, TimeLabels};

    #[test]
    fn png_has_the_signature_the_size_and_pixels_of_the_series() {
        let mut chart = TimeChart::new("Queue length", (-60.0, 0.0), TimeLabels::Ago);
        chart.header = true;
        chart.series = vec![Series {
            name: "queue length".into(),
            color: palette::BLUE,
            mark: Mark::Line,
            step: false,
            points: vec![(-50.0, 1.0), (-20.0, 40.0), (0.0, 3.0)],
        }];
        let bytes = png(&chart, 480, 200).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");

        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((info.width, info.height), (480, 200));
        let blue = pixels
            .chunks(3)
            .filter(|p| p == &[0x3b, 0x82, 0xf6])
            .count();
        assert!(blue > 100, "the line is drawn ({blue} blue pixels)");
        let light = pixels
            .chunks(3)
            .filter(|p| p.iter().all(|&c| c > 0xc0))
            .count();
        assert!(light > 50, "text is drawn ({light} light pixels)");
    }
}
