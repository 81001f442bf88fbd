//! Resize and Upsample (`kiln_ir::ops::resize`).

use super::common::{ALL, Imported, NodeIn, OpEntry, choice};
use crate::error::FrontendError;
use kiln_ir::Op;
use kiln_ir::ops::resize::{AspectPolicy, CoordMode, NearestMode, ResizeAttrs, ResizeMode};

pub(super) const OPS: &[OpEntry] = &[
    OpEntry::new("Resize", ALL, |n| resize(n, false)),
    OpEntry::new("Upsample", ALL, |n| resize(n, true)),
];

/// Resize (opsets 10 to 19) and Upsample (7, 9). `roi`, `scales` and `sizes` decide the
/// output shape (roi the sampled positions), so they must be constants; they become
/// attributes and the node keeps input X only. Opset 10 Resize and Upsample sample at
/// `x / scale` (asymmetric) and round nearest positions down (up when downsampling), as
/// onnxruntime does.
fn resize(n: &NodeIn<'_>, upsample: bool) -> Result<Imported, FrontendError> {
    let (node, ctx, a, consts, opset) = (n.node, n.ctx, &n.a, n.consts, n.opset());
    let check = |min, max| n.arity(min, max);
    let legacy = upsample || opset < 11;
    let mode = choice(
        a,
        "mode",
        ResizeMode::Nearest,
        "nearest, linear, cubic",
        |s| match s {
            "nearest" => Some(ResizeMode::Nearest),
            "linear" | "bilinear" if legacy => Some(ResizeMode::Linear),
            "linear" => Some(ResizeMode::Linear),
            "cubic" if !legacy => Some(ResizeMode::Cubic),
            _ => None,
        },
    )?;
    let mut attrs = ResizeAttrs {
        mode,
        ..Default::default()
    };
    // (slot, name) of the operands that must be constant.
    let slots: &[(usize, &str)] = if upsample && opset < 9 {
        check(1, 1)?;
        let scales = a.floats("scales")?.ok_or_else(|| {
            ctx.attr(
                "scales",
                "is required before opset 9 but missing; the model is malformed",
            )
        })?;
        attrs.scales = Some(scales.iter().map(|&v| v as f64).collect());
        &[]
    } else if legacy {
        check(2, 2)?;
        &[(1, "scales")]
    } else {
        check(1, 4)?;
        &[(1, "roi"), (2, "scales"), (3, "sizes")]
    };
    if legacy {
        attrs.coord = CoordMode::Asymmetric;
        attrs.nearest = NearestMode::Floor;
    } else {
        attrs.coord = choice(
            a,
            "coordinate_transformation_mode",
            CoordMode::HalfPixel,
            "half_pixel, half_pixel_symmetric (19+), pytorch_half_pixel, align_corners, \
             asymmetric, tf_half_pixel_for_nn (11 only), tf_crop_and_resize",
            |s| {
                CoordMode::parse(s).filter(|m| match m {
                    CoordMode::HalfPixelSymmetric => opset >= 19,
                    CoordMode::TfHalfPixelForNn => opset < 13,
                    _ => true,
                })
            },
        )?;
        attrs.nearest = choice(
            a,
            "nearest_mode",
            NearestMode::RoundPreferFloor,
            "round_prefer_floor, round_prefer_ceil, floor, ceil",
            NearestMode::parse,
        )?;
        attrs.cubic_a = a.float_or("cubic_coeff_a", -0.75)? as f64;
        attrs.exclude_outside = a.flag("exclude_outside", false)?;
        attrs.extrapolation = a.float_or("extrapolation_value", 0.0)? as f64;
        if opset >= 18 {
            attrs.antialias = a.flag("antialias", false)?;
            attrs.axes = a.ints("axes")?;
            attrs.policy = choice(
                a,
                "keep_aspect_ratio_policy",
                AspectPolicy::Stretch,
                "stretch, not_larger, not_smaller",
                |s| match s {
                    "stretch" => Some(AspectPolicy::Stretch),
                    "not_larger" => Some(AspectPolicy::NotLarger),
                    "not_smaller" => Some(AspectPolicy::NotSmaller),
                    _ => None,
                },
            )?;
        }
        if attrs.antialias && mode == ResizeMode::Nearest {
            return Err(ctx.attr("antialias", "is set, but mode nearest has no antialiasing"));
        }
    }
    let present = |slot: usize| n.has_input(slot);
    let runtime: Vec<String> = slots
        .iter()
        .filter(|&&(slot, _)| present(slot) && consts.get(slot).copied().flatten().is_none())
        .map(|&(slot, what)| format!("input {slot} ({what}, value {:?})", node.input[slot]))
        .collect();
    if !runtime.is_empty() {
        return Err(ctx.error(format!(
            "{} only known at run time, but kiln needs the output shape and the sampled \
             positions at compile time: make {} an initializer or a Constant node",
            if runtime.len() == 1 {
                format!("{} is", runtime[0])
            } else {
                format!("{} are", runtime.join(" and "))
            },
            if runtime.len() == 1 { "it" } else { "them" }
        )));
    }
    for &(slot, what) in slots {
        let Some(t) = consts
            .get(slot)
            .copied()
            .flatten()
            .filter(|_| present(slot))
        else {
            continue;
        };
        if t.numel() == 0 {
            continue;
        }
        if t.shape.len() != 1 {
            return Err(ctx.error(format!(
                "input {slot} ({what}) must be 1-D, but it is {}; the model is malformed",
                t.ty()
            )));
        }
        match what {
            "sizes" => {
                attrs.sizes = Some(
                    t.as_i64_vec()
                        .filter(|_| !t.dtype().is_float())
                        .ok_or_else(|| {
                            ctx.error(format!(
                                "input {slot} (sizes) must be int64, but it is {}",
                                t.ty()
                            ))
                        })?,
                );
            }
            _ => {
                if !t.dtype().is_float() {
                    return Err(ctx.error(format!(
                        "input {slot} ({what}) must be a float tensor, but it is {}",
                        t.ty()
                    )));
                }
                let v = t.data.to_f64_vec();
                if what == "roi" {
                    attrs.roi = Some(v);
                } else {
                    attrs.scales = Some(v);
                }
            }
        }
    }
    if attrs.coord != CoordMode::TfCropAndResize {
        attrs.roi = None;
    }
    if legacy
        && mode == ResizeMode::Nearest
        && let Some(s) = &attrs.scales
        && s.iter().any(|&v| v < 1.0)
    {
        attrs.nearest = NearestMode::Ceil;
        if s.iter().any(|&v| v > 1.0) {
            return Err(ctx.error(
                "scales both enlarge and shrink axes; kiln does not know which way opset-10 \
                 nearest resizing rounds then (re-export with opset 11 or newer)",
            ));
        }
    }
    Ok(Imported::one_input(Op::Resize(attrs)))
}
