// These are native tests of the pure core; the wasm32 build only lints the app.
#![cfg(not(target_arch = "wasm32"))]
//! Chart geometry for the views: log scales and ticks, the viridis map, equal-aspect scatter
//! scales with nearest-point hover, and the rotatable 3-D projection.

use poslens::pure::chart::log_scale::{decade_bounds, format_log_tick, log_ticks, LogScale};
use poslens::pure::chart::orbit::{cloud_radius, project_cloud, Orbit};
use poslens::pure::chart::scatter::{equal_aspect_scales, nearest_point};
use poslens::pure::chart::sequential::{sequential_rgb, sequential_stops};
use poslens::pure::chart::{Margins, PlotArea};

#[test]
fn log_scale_maps_decades_evenly() {
    let scale = LogScale::new((1e-3, 10.0), (400.0, 0.0));
    assert!((scale.map(1e-3) - 400.0).abs() < 1e-9);
    assert!((scale.map(10.0) - 0.0).abs() < 1e-9);
    assert!((scale.map(1e-1) - 200.0).abs() < 1e-9);
    assert!((scale.invert(300.0) - 1e-2).abs() < 1e-12);
    // Zero and negative values sit at the bottom rather than producing NaN.
    assert!((scale.map(0.0) - 400.0).abs() < 1e-9);
    assert_eq!(decade_bounds(0.003, 42.0), (1e-3, 100.0));
    assert_eq!(decade_bounds(-1.0, 2.0), (1.0, 1.0));
}

#[test]
fn log_ticks_are_decades_or_1_2_5() {
    assert_eq!(log_ticks(1e-4, 1.0, 10), vec![1e-4, 1e-3, 1e-2, 1e-1, 1.0]);
    assert_eq!(log_ticks(1e-8, 1.0, 5), vec![1e-8, 1e-6, 1e-4, 1e-2, 1.0]);
    let narrow = log_ticks(0.15, 3.0, 10);
    assert_eq!(narrow, vec![0.2, 0.5, 1.0, 2.0]);
    assert!(log_ticks(0.0, 1.0, 5).is_empty());
    assert_eq!(format_log_tick(0.01), "0.01");
    assert_eq!(format_log_tick(200.0), "200");
    assert_eq!(format_log_tick(1e-5), "1e-5");
    assert_eq!(format_log_tick(2e6), "2e6");
}

#[test]
fn viridis_runs_dark_to_light() {
    assert_eq!(sequential_rgb(0.0, 0.0, 1.0), [68, 1, 84]);
    assert_eq!(sequential_rgb(1.0, 0.0, 1.0), [253, 231, 37]);
    // Values outside clamp, NaN is grey, and lightness rises along the map.
    assert_eq!(sequential_rgb(-5.0, 0.0, 1.0), [68, 1, 84]);
    assert_eq!(sequential_rgb(f64::NAN, 0.0, 1.0), [136, 136, 136]);
    let luma =
        |[r, g, b]: [u8; 3]| 0.2126 * f64::from(r) + 0.7152 * f64::from(g) + 0.0722 * f64::from(b);
    let mut last = -1.0;
    for i in 0..=10 {
        let l = luma(sequential_rgb(f64::from(i), 0.0, 10.0));
        assert!(l > last, "lightness rises at step {i}");
        last = l;
    }
    assert_eq!(sequential_stops(3).len(), 3);
}

#[test]
fn scatter_scales_keep_one_aspect_and_hover_finds_the_nearest() {
    let area = PlotArea::new(
        400.0,
        200.0,
        Margins {
            top_px: 0.0,
            right_px: 0.0,
            bottom_px: 0.0,
            left_px: 0.0,
        },
    );
    let xs = [-1.0, 1.0, 0.0];
    let ys = [0.0, 0.0, 3.0];
    let (x_scale, y_scale) = equal_aspect_scales(&xs, &ys, &area);
    let x_px_per_unit = (x_scale.map(1.0) - x_scale.map(0.0)).abs();
    let y_px_per_unit = (y_scale.map(1.0) - y_scale.map(0.0)).abs();
    assert!((x_px_per_unit - y_px_per_unit).abs() < 1e-9);
    // Every point is inside the area.
    for (&x, &y) in xs.iter().zip(&ys) {
        assert!(area.contains(x_scale.map(x), y_scale.map(y)));
    }
    let points = [(10.0, 10.0), (20.0, 10.0), (f64::NAN, 0.0)];
    assert_eq!(nearest_point(&points, 14.0, 10.0, 8.0), Some(0));
    assert_eq!(nearest_point(&points, 16.0, 10.0, 8.0), Some(1));
    assert_eq!(nearest_point(&points, 100.0, 10.0, 8.0), None);
}

#[test]
fn orbit_projection_rotates_and_keeps_lengths() {
    let front = Orbit {
        yaw_rad: 0.0,
        pitch_rad: 0.0,
    };
    let p = front.project([0.3, 0.4, 0.5]);
    assert!(
        (p.x - 0.3).abs() < 1e-12 && (p.y - 0.4).abs() < 1e-12 && (p.depth - 0.5).abs() < 1e-12
    );
    let quarter = Orbit {
        yaw_rad: std::f64::consts::FRAC_PI_2,
        pitch_rad: 0.0,
    };
    let q = quarter.project([1.0, 0.0, 0.0]);
    assert!(q.x.abs() < 1e-12 && (q.depth + 1.0).abs() < 1e-12);
    let tilted = Orbit::default().rotated(0.3, 10.0);
    assert!((tilted.pitch_rad - std::f64::consts::FRAC_PI_2).abs() < 1e-12);
    let r = tilted.project([0.2, -0.7, 0.4]);
    let length = (r.x * r.x + r.y * r.y + r.depth * r.depth).sqrt();
    assert!((length - (0.04_f64 + 0.49 + 0.16).sqrt()).abs() < 1e-12);
    let cloud = [[3.0, 0.0, 4.0], [0.0, 1.0, 0.0]];
    assert_eq!(cloud_radius(&cloud), 5.0);
    let projected = project_cloud(&cloud, &front);
    assert!((projected[0].x - 0.6).abs() < 1e-12 && (projected[0].depth - 0.8).abs() < 1e-12);
}
