//! A 3-D point cloud seen from a rotatable camera, projected orthographically onto a plane
//! for canvas drawing.

/// The camera's orientation: a turn about the vertical axis, then a tilt.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Orbit {
    /// Rotation about the vertical (y) axis, in radians.
    pub yaw_rad: f64,
    /// Rotation about the horizontal (x) axis after the yaw, in radians, kept within ±π/2.
    pub pitch_rad: f64,
}

impl Default for Orbit {
    /// A three-quarter view that shows all three axes.
    fn default() -> Self {
        Orbit {
            yaw_rad: 0.6,
            pitch_rad: 0.35,
        }
    }
}

/// A projected point: plane coordinates in −1..1 for a cloud inside the unit ball (x to the
/// right, y up) and its depth (larger is nearer the viewer).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Projected {
    /// Horizontal plane coordinate.
    pub x: f64,
    /// Vertical plane coordinate (up is positive).
    pub y: f64,
    /// Depth towards the viewer.
    pub depth: f64,
}

impl Orbit {
    /// Returns the orbit turned by `d_yaw_rad` and tilted by `d_pitch_rad`, the tilt clamped
    /// to ±π/2 so the view never flips over.
    pub fn rotated(self, d_yaw_rad: f64, d_pitch_rad: f64) -> Orbit {
        let half_pi = std::f64::consts::FRAC_PI_2;
        let yaw = (self.yaw_rad + d_yaw_rad).rem_euclid(2.0 * std::f64::consts::PI);
        Orbit {
            yaw_rad: if yaw.is_finite() { yaw } else { 0.0 },
            pitch_rad: (self.pitch_rad + d_pitch_rad).clamp(-half_pi, half_pi),
        }
    }

    /// Projects one point (already scaled) onto the view plane.
    pub fn project(&self, point: [f64; 3]) -> Projected {
        let [x, y, z] = point;
        let (sin_yaw, cos_yaw) = self.yaw_rad.sin_cos();
        let (sin_pitch, cos_pitch) = self.pitch_rad.sin_cos();
        // Turn about y, then tilt about x.
        let x1 = cos_yaw * x + sin_yaw * z;
        let z1 = -sin_yaw * x + cos_yaw * z;
        let y2 = cos_pitch * y - sin_pitch * z1;
        let z2 = sin_pitch * y + cos_pitch * z1;
        Projected {
            x: x1,
            y: y2,
            depth: z2,
        }
    }
}

/// Returns the largest distance of a finite point from the origin (1 when there is none or
/// it is 0), to scale a cloud into the unit ball.
pub fn cloud_radius(points: &[[f64; 3]]) -> f64 {
    let radius = points
        .iter()
        .filter(|p| p.iter().all(|v| v.is_finite()))
        .map(|[x, y, z]| (x * x + y * y + z * z).sqrt())
        .fold(0.0_f64, f64::max);
    if radius > 0.0 {
        radius
    } else {
        1.0
    }
}

/// Projects every point after scaling the cloud into the unit ball.
pub fn project_cloud(points: &[[f64; 3]], orbit: &Orbit) -> Vec<Projected> {
    let radius = cloud_radius(points);
    points
        .iter()
        .map(|[x, y, z]| orbit.project([x / radius, y / radius, z / radius]))
        .collect()
}
