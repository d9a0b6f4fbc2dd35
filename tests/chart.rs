// These are native tests of the pure core; the wasm32 build only lints the app.
#![cfg(not(target_arch = "wasm32"))]
//! Tests for chart geometry: scales, ticks, colours, histograms, paths and hit tests.

use poslens::pure::chart::histogram::histogram_in_range;
use poslens::pure::chart::*;
use proptest::prelude::*;

fn is_nice(step: f64) -> bool {
    let exponent = step.log10().floor();
    let mantissa = step / 10f64.powf(exponent);
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .any(|m| (mantissa - m).abs() < 1e-9)
}

#[test]
fn ticks_simple_cases() {
    assert_eq!(
        nice_ticks(0.0, 10.0, 5),
        vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    );
    assert_eq!(nice_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
    assert_eq!(
        nice_ticks(0.0, 1024.0, 5),
        vec![0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]
    );
    assert_eq!(nice_ticks(-1.0, 1.0, 4), vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
    // Reversed arguments give the same ticks.
    assert_eq!(nice_ticks(10.0, 0.0, 5), nice_ticks(0.0, 10.0, 5));
    // Float noise does not lose the end ticks, and there is no -0.
    let ticks = nice_ticks(0.1, 0.3, 2);
    assert_eq!(ticks, vec![0.1, 0.2, 0.3]);
    assert!(nice_ticks(-0.3, 0.3, 6)
        .iter()
        .all(|t| *t != 0.0 || t.is_sign_positive()));
}

#[test]
fn ticks_degenerate_inputs() {
    assert_eq!(nice_ticks(3.0, 3.0, 5), vec![3.0]);
    assert!(nice_ticks(f64::NAN, 1.0, 5).is_empty());
    assert!(nice_ticks(0.0, f64::INFINITY, 5).is_empty());
    assert_eq!(nice_ticks(0.0, 1.0, 0), vec![0.0, 1.0]);
    assert_eq!(nice_ticks(0.0, 1e-300, 5).len(), 6);
    assert!(nice_ticks(-1e300, 1e300, 5).len() <= 12);
    assert!(nice_ticks(0.0, 1.0, usize::MAX).len() <= 1000);
}

proptest! {
    #[test]
    fn ticks_are_nice_and_cover_the_range(
        lo in -1e6f64..1e6,
        span in 1e-6f64..1e6,
        target in 2usize..12,
    ) {
        let hi = lo + span;
        prop_assume!(hi > lo);
        let ticks = nice_ticks(lo, hi, target);
        prop_assert!(!ticks.is_empty());
        prop_assert!(ticks.len() <= target * 3 + 2, "{} ticks for target {}", ticks.len(), target);
        let step = nice_step(hi - lo, target);
        prop_assert!(is_nice(step), "step {step}");
        for pair in ticks.windows(2) {
            prop_assert!(pair[1] > pair[0]);
            prop_assert!(((pair[1] - pair[0]) / step - 1.0).abs() < 1e-6);
        }
        let tolerance = step * 1e-6;
        prop_assert!(ticks[0] >= lo - tolerance && *ticks.last().unwrap() <= hi + tolerance);
        // No gap of a full step is left uncovered at either end.
        prop_assert!(ticks[0] - lo < step + tolerance);
        prop_assert!(hi - ticks.last().unwrap() < step + tolerance);
    }

    #[test]
    fn scale_round_trips(
        d0 in -1e6f64..1e6, dw in 1e-3f64..1e6,
        r0 in -2000f64..2000.0, rw in prop_oneof![1.0f64..2000.0, -2000.0f64..-1.0],
        v in -1e6f64..1e6,
    ) {
        let scale = LinearScale::new((d0, d0 + dw), (r0, r0 + rw));
        let back = scale.invert(scale.map(v));
        prop_assert!((back - v).abs() <= 1e-6 * (1.0 + v.abs() + d0.abs() + dw), "{v} -> {back}");
    }

    #[test]
    fn histogram_counts_every_finite_value(values in proptest::collection::vec(-1e9f64..1e9, 0..300), n in 1usize..50) {
        let h = histogram(&values, n);
        prop_assert_eq!(h.edges.len(), n + 1);
        prop_assert_eq!(h.counts.len(), n);
        prop_assert_eq!(h.total(), values.len());
        for pair in h.edges.windows(2) {
            prop_assert!(pair[1] >= pair[0]);
        }
    }

    #[test]
    fn colours_never_panic(v in any::<f64>(), m in any::<f64>()) {
        let _ = diverging_rgb(v, m);
    }

    #[test]
    fn hit_test_stays_in_grid(x in -10f64..1010.0, y in -10f64..1010.0, rows in 0usize..600, cols in 0usize..600) {
        let layout = HeatmapLayout { n_rows: rows, n_cols: cols, width_px: 1000.0, height_px: 1000.0 };
        if let Some((r, c)) = layout.cell_at(x, y) {
            prop_assert!(r < rows && c < cols);
            let (cx, cy, cw, ch) = layout.cell_rect(r, c).unwrap();
            prop_assert!(x >= cx - 1e-9 && x <= cx + cw + 1e-9);
            prop_assert!(y >= cy - 1e-9 && y <= cy + ch + 1e-9);
        }
    }
}

#[test]
fn scale_basics() {
    let scale = LinearScale::new((0.0, 10.0), (100.0, 0.0));
    assert_eq!(scale.map(0.0), 100.0);
    assert_eq!(scale.map(10.0), 0.0);
    assert_eq!(scale.map(5.0), 50.0);
    assert_eq!(scale.invert(25.0), 7.5);
    let flat = LinearScale::new((3.0, 3.0), (0.0, 200.0));
    assert_eq!(flat.map(3.0), 100.0);
    assert_eq!(flat.map(-7.0), 100.0);
    let no_range = LinearScale::new((0.0, 4.0), (50.0, 50.0));
    assert_eq!(no_range.invert(50.0), 2.0);
    assert_eq!(
        LinearScale::new((0.13, 0.97), (0.0, 1.0)).nice(5).domain,
        (0.0, 1.0)
    );
    assert_eq!(LinearScale::new((0.0, 10.0), (0.0, 1.0)).ticks(5).len(), 6);
}

#[test]
fn tick_labels() {
    assert_eq!(format_tick(0.0, 0.2), "0");
    assert_eq!(format_tick(-0.0, 0.2), "0");
    assert_eq!(format_tick(0.4, 0.2), "0.4");
    assert_eq!(format_tick(0.25, 0.05), "0.25");
    assert_eq!(format_tick(200.0, 100.0), "200");
    assert_eq!(format_tick(1.5, 0.5), "1.5");
    assert_eq!(format_tick(1.0, 0.5), "1.0");
    assert_eq!(format_tick(-3.0, 1.0), "-3");
    assert_eq!(format_tick(0.001, 0.001), "0.001");
    assert_eq!(format_tick(2.5e-6, 5e-7), "2.5e-6");
    assert_eq!(format_tick(1e-5, 5e-6), "1e-5");
    assert_eq!(format_tick(2e7, 1e7), "2e7");
    assert_eq!(format_tick(1.5e6, 5e5), "1.5e6");
    assert_eq!(format_tick(f64::NAN, 1.0), "NaN");
    // A step of zero falls back to the value's own size.
    assert_eq!(format_tick(3.0, 0.0), "3");
}

#[test]
fn diverging_colours() {
    assert_eq!(diverging_rgb(0.0, 1.0), [255, 255, 255]);
    assert_eq!(diverging_rgb(0.0, 0.0), [255, 255, 255]);
    let negative = diverging_rgb(-0.5, 1.0);
    let positive = diverging_rgb(0.5, 1.0);
    assert!(negative[2] > negative[0], "negative is blue: {negative:?}");
    assert!(positive[0] > positive[2], "positive is red: {positive:?}");
    // Saturates at the ends, and larger magnitude is darker.
    assert_eq!(diverging_rgb(-5.0, 1.0), diverging_rgb(-1.0, 1.0));
    assert_eq!(diverging_rgb(5.0, 1.0), diverging_rgb(1.0, 1.0));
    let lightness = |c: [u8; 3]| c.iter().map(|&x| u32::from(x)).sum::<u32>();
    let mut previous = lightness(diverging_rgb(0.0, 1.0));
    for i in 1..=20 {
        let t = f64::from(i) / 20.0;
        let pos = lightness(diverging_rgb(t, 1.0));
        let neg = lightness(diverging_rgb(-t, 1.0));
        assert!(pos <= previous + 1, "monotone lightness at {t}");
        assert!(pos.abs_diff(neg) < 200, "roughly symmetric at {t}");
        previous = pos;
    }
    assert_eq!(diverging_rgb(f64::NAN, 1.0), NAN_RGB);
    assert_eq!(rgb_css([255, 0, 16]), "#ff0010");
}

#[test]
fn abs_max_and_colorbar() {
    assert_eq!(symmetric_abs_max(&[0.0, 0.0]), 1.0);
    assert_eq!(symmetric_abs_max(&[]), 1.0);
    assert_eq!(
        symmetric_abs_max(&[0.5, -2.0, f64::NAN, f64::INFINITY]),
        2.0
    );
    let stops = colorbar_stops(2.0, 5);
    let values: Vec<f64> = stops.iter().map(|s| s.0).collect();
    assert_eq!(values, vec![-2.0, -1.0, 0.0, 1.0, 2.0]);
    assert_eq!(stops[2].1, "#ffffff");
    assert!(colorbar_stops(1.0, 0).is_empty());
    assert_eq!(colorbar_stops(1.0, 1), vec![(0.0, "#ffffff".to_owned())]);
}

#[test]
fn quantile_abs_max_by_nearest_rank() {
    // 100 values with |v| = 1..=100 (signs alternate): the 99th percentile is 99, the 95th 95.
    let values: Vec<f64> = (1..=100)
        .map(|i| {
            if i % 2 == 0 {
                f64::from(i)
            } else {
                -f64::from(i)
            }
        })
        .collect();
    assert_eq!(quantile_abs_max(&values, 0.99), 99.0);
    assert_eq!(quantile_abs_max(&values, 0.95), 95.0);
    assert_eq!(quantile_abs_max(&values, 0.5), 50.0);
    // 0.999 of 100 values rounds up to the largest.
    assert_eq!(quantile_abs_max(&values, 0.999), 100.0);
    // A tiny quantile takes the smallest magnitude.
    assert_eq!(quantile_abs_max(&values, 1e-9), 1.0);
}

#[test]
fn quantile_abs_max_ignores_a_single_outlier() {
    // A delta-like vector: one huge cell and many ordinary ones.
    let mut values: Vec<f64> = (0..999).map(|i| 0.01 * f64::from(i % 7) - 0.03).collect();
    values.push(-50.0);
    assert_eq!(symmetric_abs_max(&values), 50.0);
    let clipped = quantile_abs_max(&values, 0.99);
    assert!((clipped - 0.03).abs() < 1e-12, "{clipped}");
}

#[test]
fn quantile_abs_max_falls_back_to_the_full_range() {
    let values = [0.5, -2.0, 1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
    // q = 1 (and beyond, and nonsense) is the full range.
    for q in [1.0, 1.5, 0.0, -0.5, f64::NAN, f64::INFINITY] {
        assert_eq!(
            quantile_abs_max(&values, q),
            symmetric_abs_max(&values),
            "q = {q}"
        );
    }
    // Non-finite values are ignored: the finite magnitudes are 0.5, 1 and 2.
    assert_eq!(quantile_abs_max(&values, 0.5), 1.0);
    assert_eq!(quantile_abs_max(&values, 0.99), 2.0);
    // Empty, all zero, or only NaN: 1, as symmetric_abs_max gives.
    assert_eq!(quantile_abs_max(&[], 0.99), 1.0);
    assert_eq!(quantile_abs_max(&[0.0, -0.0, 0.0], 0.99), 1.0);
    assert_eq!(quantile_abs_max(&[f64::NAN, f64::NAN], 0.99), 1.0);
    // A quantile that lands on zero falls back to the largest magnitude.
    let mostly_zero = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0];
    assert_eq!(quantile_abs_max(&mostly_zero, 0.5), 3.0);
}

#[test]
fn percentile_ordinals() {
    assert_eq!(percentile_ordinal(0.99), "99th");
    assert_eq!(percentile_ordinal(0.999), "99.9th");
    assert_eq!(percentile_ordinal(0.995), "99.5th");
    assert_eq!(percentile_ordinal(0.95), "95th");
    assert_eq!(percentile_ordinal(0.5), "50th");
    assert_eq!(percentile_ordinal(0.51), "51st");
    assert_eq!(percentile_ordinal(0.52), "52nd");
    assert_eq!(percentile_ordinal(0.53), "53rd");
    assert_eq!(percentile_ordinal(0.11), "11th");
}

proptest! {
    #[test]
    fn quantile_abs_max_is_positive_and_within_the_full_range(
        values in proptest::collection::vec(
            prop_oneof![-1e6f64..1e6, Just(0.0), Just(f64::NAN), Just(f64::INFINITY)],
            0..200,
        ),
        q in prop_oneof![0.5f64..1.0, any::<f64>()],
    ) {
        let limit = quantile_abs_max(&values, q);
        prop_assert!(limit > 0.0 && limit.is_finite(), "{limit}");
        prop_assert!(limit <= symmetric_abs_max(&values));
    }
}

#[test]
fn series_palette() {
    let colours = line_series_colors(30);
    assert_eq!(colours.len(), 30);
    let mut unique = colours.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 30);
    assert!(colours.iter().all(|c| c.len() == 7 && c.starts_with('#')));
    assert!(line_series_colors(0).is_empty());
}

#[test]
fn histogram_matches_numpy() {
    // numpy.histogram([1, 2, 2, 3, 4], bins=3) -> counts [1, 2, 2], edges [1, 2, 3, 4].
    let h = histogram(&[1.0, 2.0, 2.0, 3.0, 4.0], 3);
    assert_eq!(h.counts, vec![1, 2, 2]);
    assert_eq!(h.edges, vec![1.0, 2.0, 3.0, 4.0]);
    // numpy.histogram([0, 1, 2, 3], bins=2) -> [2, 2]: the last bin includes its right edge.
    assert_eq!(histogram(&[0.0, 1.0, 2.0, 3.0], 2).counts, vec![2, 2]);
    // numpy.histogram([0.1, 0.2, 0.3], bins=10): edges at 0.1 + k*0.02; 0.2 lands in bin 5.
    let h = histogram(&[0.1, 0.2, 0.3], 10);
    assert_eq!(h.counts, vec![1, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
    // Constant input: range value ± 0.5.
    let h = histogram(&[5.0, 5.0], 2);
    assert_eq!(h.edges, vec![4.5, 5.0, 5.5]);
    assert_eq!(h.counts, vec![0, 2]);
    // Empty input: range 0..1, zero counts.
    let h = histogram(&[], 4);
    assert_eq!(h.edges, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    assert_eq!(h.counts, vec![0; 4]);
    // One bin and zero bins.
    let h = histogram(&[-1.0, 0.0, 3.0], 1);
    assert_eq!(h.edges, vec![-1.0, 3.0]);
    assert_eq!(h.counts, vec![3]);
    let h = histogram(&[-1.0, 0.0, 3.0], 0);
    assert_eq!(h.edges.len(), 1);
    assert!(h.counts.is_empty());
    // Non-finite values are left out.
    assert_eq!(
        histogram(&[f64::NAN, 1.0, f64::INFINITY, 2.0], 2).total(),
        2
    );
    // An explicit range drops values outside it.
    assert_eq!(
        histogram_in_range(&[-1.0, 0.0, 0.5, 1.0, 2.0], 2, 0.0, 1.0).counts,
        vec![1, 2]
    );
    assert_eq!(histogram_in_range(&[1.0], 3, 1.0, 1.0).total(), 0);
}

#[test]
fn histogram_bars() {
    let h = histogram(&[0.0, 0.0, 1.0], 2);
    let x = LinearScale::new((0.0, 1.0), (0.0, 100.0));
    let y = LinearScale::new((0.0, 2.0), (50.0, 0.0));
    let bars = h.bars(&x, &y);
    assert_eq!(bars.len(), 2);
    assert_eq!(bars[0].x_px, 0.0);
    assert_eq!(bars[0].width_px, 50.0);
    assert_eq!(bars[0].y_px, 0.0);
    assert_eq!(bars[0].height_px, 50.0);
    assert_eq!(bars[1].height_px, 25.0);
    assert_eq!(h.max_count(), 2);
}

#[test]
fn path_format() {
    let x = LinearScale::new((0.0, 2.0), (0.0, 100.0));
    let y = LinearScale::new((0.0, 1.0), (10.0, 0.0));
    assert_eq!(
        polyline_path(&[0.0, 1.0, 2.0], &[0.0, 0.5, 1.0], &x, &y),
        "M 0.00 10.00 L 50.00 5.00 L 100.00 0.00"
    );
    // A gap restarts the path with M; extra xs are ignored.
    assert_eq!(
        polyline_path(&[0.0, 1.0, 2.0, 3.0], &[0.0, f64::NAN, 1.0], &x, &y),
        "M 0.00 10.00 M 100.00 0.00"
    );
    assert_eq!(polyline_path(&[], &[], &x, &y), "");
    assert_eq!(polyline_path(&[f64::NAN], &[1.0], &x, &y), "");
    assert_eq!(
        polyline_path(
            &[1.0 / 3.0],
            &[0.0],
            &LinearScale::new((0.0, 1.0), (0.0, 1.0)),
            &y
        ),
        "M 0.33 10.00"
    );
    assert_eq!(format_coord(-0.001), "0.00");
}

#[test]
fn nearest_index_for_hover() {
    let xs = [0.0, 1.0, 2.0, 10.0];
    assert_eq!(nearest_index(&xs, -5.0), Some(0));
    assert_eq!(nearest_index(&xs, 0.4), Some(0));
    assert_eq!(nearest_index(&xs, 0.5), Some(0));
    assert_eq!(nearest_index(&xs, 0.6), Some(1));
    assert_eq!(nearest_index(&xs, 2.0), Some(2));
    assert_eq!(nearest_index(&xs, 7.0), Some(3));
    assert_eq!(nearest_index(&xs, 100.0), Some(3));
    assert_eq!(nearest_index(&xs, f64::NAN), None);
    assert_eq!(nearest_index(&[], 1.0), None);
}

#[test]
fn heatmap_pixels() {
    let rows = vec![vec![-1.0, 0.0, 1.0], vec![0.0]];
    let rgba = heatmap_rgba(&rows, 1.0);
    assert_eq!(rgba.len(), 2 * 3 * 4);
    assert_eq!(&rgba[4..8], &[255, 255, 255, 255]);
    assert!(rgba[2] > rgba[0], "first cell is blue");
    assert!(rgba[8] > rgba[10], "third cell is red");
    // The short row's missing cells are transparent.
    assert_eq!(&rgba[16..24], &[0; 8]);
    assert!(heatmap_rgba(&[], 1.0).is_empty());
    assert!(heatmap_rgba(&[vec![], vec![]], 1.0).is_empty());
}

#[test]
fn heatmap_hit_test_edges() {
    let layout = HeatmapLayout {
        n_rows: 4,
        n_cols: 2,
        width_px: 100.0,
        height_px: 40.0,
    };
    assert_eq!(layout.cell_at(0.0, 0.0), Some((0, 0)));
    assert_eq!(layout.cell_at(49.999, 9.999), Some((0, 0)));
    assert_eq!(layout.cell_at(50.0, 10.0), Some((1, 1)));
    assert_eq!(layout.cell_at(99.999, 39.999), Some((3, 1)));
    assert_eq!(layout.cell_at(100.0, 0.0), None);
    assert_eq!(layout.cell_at(0.0, 40.0), None);
    assert_eq!(layout.cell_at(-0.001, 5.0), None);
    assert_eq!(layout.cell_at(f64::NAN, 5.0), None);
    assert_eq!(layout.cell_rect(1, 1), Some((50.0, 10.0, 50.0, 10.0)));
    assert_eq!(layout.cell_rect(4, 0), None);
    let empty = HeatmapLayout {
        n_rows: 0,
        n_cols: 3,
        width_px: 10.0,
        height_px: 10.0,
    };
    assert_eq!(empty.cell_at(1.0, 1.0), None);
}

#[test]
fn plot_area_layout() {
    let margins = Margins {
        top_px: 10.0,
        right_px: 20.0,
        bottom_px: 30.0,
        left_px: 40.0,
    };
    let area = PlotArea::new(400.0, 300.0, margins);
    assert_eq!((area.left(), area.right()), (40.0, 380.0));
    assert_eq!((area.top(), area.bottom()), (10.0, 270.0));
    assert!(area.contains(40.0, 270.0));
    assert!(!area.contains(39.0, 100.0));
    let y = area.y_scale((0.0, 1.0));
    assert_eq!(y.map(0.0), 270.0);
    assert_eq!(y.map(1.0), 10.0);
    assert_eq!(area.x_scale((0.0, 1.0)).map(1.0), 380.0);
    let tiny = PlotArea::new(10.0, 10.0, margins);
    assert_eq!((tiny.width_px, tiny.height_px), (0.0, 0.0));
    let defaults = PlotArea::new(640.0, 320.0, Margins::default());
    assert!(defaults.width_px > 0.0 && defaults.height_px > 0.0);
}

// The chart frame: one description of the drawing box, the axes, the cell axes and the colour
// bar, drawn by the page and by the exports.

use poslens::pure::export::{heatmap_svg, HeatmapFigure, SvgTheme};

#[test]
fn chart_size_places_the_plot_area_and_maps_the_pointer() {
    let size = ChartSize::STANDARD;
    assert_eq!(size.view_box(), "0 0 560 300");
    let area = size.area();
    assert_eq!(
        (area.left(), area.right(), area.top(), area.bottom()),
        (60.0, 544.0, 16.0, 252.0)
    );
    // A chart drawn 280 px wide: each pixel is two units.
    assert_eq!(size.chart_point(100.0, 50.0, 280.0), (200.0, 100.0));
    let tall = ChartSize::STANDARD.with_height(420.0).with_left(64.0);
    assert_eq!(tall.area().left(), 64.0);
    assert_eq!(tall.area().bottom(), 372.0);
}

#[test]
fn hover_maps_to_the_nearest_point_only_over_the_plot_area() {
    let area = ChartSize::STANDARD.area();
    let xs: Vec<f64> = (0..10).map(f64::from).collect();
    let scale = area.x_scale((0.0, 9.0));
    assert_eq!(
        hovered_index(&area, &xs, scale.map(3.4), |x| scale.invert(x)),
        Some(3)
    );
    assert_eq!(
        hovered_index(&area, &xs, scale.map(3.6), |x| scale.invert(x)),
        Some(4)
    );
    assert_eq!(
        hovered_index(&area, &xs, area.left() - 1.0, |x| scale.invert(x)),
        None
    );
    assert_eq!(
        hovered_index(&area, &xs, area.right() + 1.0, |x| scale.invert(x)),
        None
    );
}

#[test]
fn an_axis_places_nice_ticks_and_draws_them_as_markup() {
    let area = ChartSize::STANDARD.area();
    let x_scale = area.x_scale((0.0, 100.0));
    let bottom = Axis::bottom(&x_scale, 5, "position <p>");
    let labels: Vec<&str> = bottom.ticks.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(labels, ["0", "20", "40", "60", "80", "100"]);
    assert_eq!(bottom.ticks[1].at_px, x_scale.map(20.0));
    let markup = bottom.svg(&area);
    assert!(markup.starts_with("<g class=\"axis\">"));
    assert_eq!(markup.matches("class=\"tick\"").count(), 6);
    assert!(markup.contains(&format!("<text x=\"{}\" y=\"270\"", x_scale.map(20.0))));
    assert!(markup.contains(">position &lt;p&gt;</text>"), "{markup}");

    let y_scale = area.y_scale((-1.0, 1.0));
    let left = Axis::left(&y_scale, 4, "u");
    assert_eq!(left.side, AxisSide::Left);
    let markup = left.svg(&area);
    assert_eq!(markup.matches("class=\"zero\"").count(), 1, "{markup}");
    assert!(markup.contains("transform=\"rotate(-90 14 134)\""));
    assert!(Axis::bottom(&x_scale, 5, "p")
        .without_ticks()
        .ticks
        .is_empty());
}

#[test]
fn count_and_log_axes_label_their_ticks() {
    let area = ChartSize::STANDARD.area();
    let counts = Axis::left_counts(&area.y_scale((0.0, 40.0)), 5, "count");
    assert!(counts
        .ticks
        .iter()
        .all(|t| !t.zero && !t.label.contains('.')));
    let log = log_scale::LogScale::new((1e-3, 10.0), (area.bottom(), area.top()));
    let axis = Axis::log_left(&log, "σ");
    let labels: Vec<&str> = axis.ticks.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(labels, ["0.001", "0.01", "0.1", "1", "10"]);
}

#[test]
fn cell_axes_put_ticks_at_cell_centres() {
    let axis = CellAxis::centred("position", 0.0, 512, 8);
    assert_eq!(axis.ticks.first().map(|t| t.label.as_str()), Some("0"));
    assert_eq!(axis.ticks[2].label, "100");
    assert!((axis.ticks[2].fraction - 100.5 / 512.0).abs() < 1e-12);
    // A window of positions numbered from 100.
    let window = CellAxis::centred("position", 100.0, 50, 6);
    assert_eq!(window.ticks[0].label, "100");
    assert!((window.ticks[0].fraction - 0.5 / 50.0).abs() < 1e-12);
    let ends = CellAxis::ends("model dimension", 384);
    let ends: Vec<(f64, &str)> = ends
        .ticks
        .iter()
        .map(|t| (t.fraction, t.label.as_str()))
        .collect();
    assert_eq!(ends, [(0.0, "0"), (1.0, "383")]);
}

#[test]
fn the_colour_bar_marks_clipped_limits() {
    assert_eq!(ColorBar::new(0.5, false).labels, ["0.5", "0", "-0.5"]);
    assert_eq!(ColorBar::new(0.5, true).labels, ["≥ +0.5", "0", "≤ −0.5"]);
    let css = ColorBar::new(1.0, false).css_gradient();
    assert!(css.starts_with("background: linear-gradient(to bottom, "));
    assert!(css.ends_with(" 100%);"));
}

/// The heatmap export draws exactly the page's axes: each tick of the frame's description at
/// its fraction of the plot, with its label, and the colour bar's labels.
#[test]
fn the_heatmap_export_draws_the_axes_of_the_page() {
    let frame = CellFrame {
        x_axis: CellAxis::centred("position", 0.0, 512, 8),
        y_axis: CellAxis::centred("vector index", 0.0, 5, 5),
        colorbar: ColorBar::new(0.25, true),
    };
    let theme = SvgTheme::default();
    let doc = heatmap_svg(&HeatmapFigure {
        title: "First 5 left singular vectors",
        png_data_uri: "data:image/png;base64,AAAA",
        n_rows: 5,
        frame: &frame,
        theme: &theme,
    });
    // The plot spans x 64..624 and y 40..200 in the figure.
    for tick in &frame.x_axis.ticks {
        let x = 64.0 + tick.fraction * 560.0;
        assert!(
            doc.contains(&format!(
                "<text x=\"{x:.2}\" y=\"218\">{}</text>",
                tick.label
            )),
            "x tick {} at {x:.2}\n{doc}",
            tick.label
        );
    }
    for tick in &frame.y_axis.ticks {
        let y = 40.0 + tick.fraction * 160.0;
        assert!(
            doc.contains(&format!(
                "<text x=\"56\" y=\"{:.2}\">{}</text>",
                y + 4.0,
                tick.label
            )),
            "y tick {} at {y:.2}",
            tick.label
        );
    }
    let texts = doc.matches("<text").count();
    // Title, the ticks, two axis titles and three colour bar labels: nothing drawn twice.
    assert_eq!(
        texts,
        1 + frame.x_axis.ticks.len() + frame.y_axis.ticks.len() + 2 + 3
    );
    for label in &frame.colorbar.labels {
        assert!(
            doc.contains(&format!(">{label}</text>")),
            "colour bar label {label}"
        );
    }
    assert!(doc.contains(">position</text>") && doc.contains(">vector index</text>"));
}
