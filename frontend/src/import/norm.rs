//! Normalisations (`kiln_ir::ops::norm`): BatchNormalization, LayerNormalization,
//! InstanceNormalization, GroupNormalization, MeanVarianceNormalization, LpNormalization
//! and LRN.

use super::common::{ALL, Imported, NodeIn, OpEntry, Survey};
use crate::error::FrontendError;
use crate::tensor::onnx_dtype_name;
use kiln_ir::Op;
use kiln_ir::ops::{
    BatchNormAttrs, GroupNormAttrs, LayerNormAttrs, LpNormAttrs, LrnAttrs, MvnAttrs,
};

pub(super) const OPS: &[OpEntry] = &[
    OpEntry::new("BatchNormalization", ALL, batch_norm).with_check(batch_norm_use),
    OpEntry::new("LayerNormalization", ALL, layer_norm).with_check(layer_norm_use),
    OpEntry::new("InstanceNormalization", ALL, |n| group_norm(n, true)),
    OpEntry::new("GroupNormalization", ALL, |n| group_norm(n, false)),
    OpEntry::new("MeanVarianceNormalization", ALL, mvn),
    OpEntry::new("LpNormalization", ALL, lp_norm),
    OpEntry::new("LRN", ALL, lrn),
];

fn batch_norm_use(s: &Survey<'_>) -> Result<(), String> {
    let training = s.int("training_mode").is_some_and(|v| v != 0);
    if s.ctx.opset < 14 && s.n_outputs > 1 {
        return Err(
            "the training outputs of opsets before 14 (mean, var, saved_mean, \
                    saved_var); export the model in inference mode (model.eval()) or at \
                    opset 14 or newer"
                .into(),
        );
    }
    if s.n_outputs > 1 && !training {
        return Err(
            "running_mean and running_var are outputs only with training_mode=1; \
                    the model is malformed"
                .into(),
        );
    }
    if s.int("spatial") == Some(0) {
        return Err("spatial=0 (per-activation statistics) is not supported".into());
    }
    Ok(())
}

fn batch_norm(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(5, 5)?;
    let training = n.opset() >= 14 && n.a.int("training_mode")?.is_some_and(|v| v != 0);
    Ok(Op::BatchNormalization(BatchNormAttrs {
        epsilon: n.a.float_or("epsilon", 1e-5)?,
        training_momentum: if training {
            Some(n.a.float_or("momentum", 0.9)?)
        } else {
            None
        },
    })
    .into())
}

/// The Mean and InvStdDev outputs have the element type `stash_type` (default float); kiln
/// computes them in X's type.
fn layer_norm_use(s: &Survey<'_>) -> Result<(), String> {
    if s.n_outputs <= 1 {
        return Ok(());
    }
    let stash = i32::try_from(s.int("stash_type").unwrap_or(1)).unwrap_or(0);
    if let Some(Some(x)) = s.input_types.first()
        && *x != stash
    {
        return Err(format!(
            "the node asks for the Mean and InvStdDev outputs in stash_type {} while X is {}; \
             kiln computes them in X's element type (set stash_type to it, or drop the extra \
             outputs)",
            onnx_dtype_name(stash),
            onnx_dtype_name(*x)
        ));
    }
    Ok(())
}

fn layer_norm(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    // `stash_type` only sets the precision of the statistics; kiln's kernels use the
    // input's type and the reference f64.
    n.arity(2, 3)?;
    Ok(Op::LayerNormalization(LayerNormAttrs {
        axis: n.a.int_or("axis", -1)?,
        epsilon: n.a.float_or("epsilon", 1e-5)?,
    })
    .into())
}

/// InstanceNormalization (`instance`) and GroupNormalization.
fn group_norm(n: &NodeIn<'_>, instance: bool) -> Result<Imported, FrontendError> {
    n.arity(3, 3)?;
    let num_groups = if instance {
        0
    } else {
        let g = n.a.int("num_groups")?.ok_or_else(|| {
            n.ctx.attr(
                "num_groups",
                "is required but missing; the model is malformed",
            )
        })?;
        usize::try_from(g)
            .ok()
            .filter(|&g| g >= 1)
            .ok_or_else(|| n.ctx.attr("num_groups", format!("is {g}; it must be ≥ 1")))?
    };
    // GroupNormalization 21's `stash_type` only sets the statistics' precision.
    Ok(Op::GroupNormalization(GroupNormAttrs {
        instance,
        num_groups,
        epsilon: n.a.float_or("epsilon", 1e-5)?,
    })
    .into())
}

fn mvn(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    Ok(Op::MeanVarianceNormalization(MvnAttrs {
        axes: n.a.ints("axes")?.unwrap_or_else(|| vec![0, 2, 3]),
    })
    .into())
}

fn lp_norm(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    let p = n.a.int_or("p", 2)?;
    if p != 1 && p != 2 {
        return Err(n.ctx.attr("p", format!("is {p}; it must be 1 or 2")));
    }
    Ok(Op::LpNormalization(LpNormAttrs {
        axis: n.a.int_or("axis", -1)?,
        p: p as u8,
    })
    .into())
}

fn lrn(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    let size = n.a.int("size")?.ok_or_else(|| {
        n.ctx
            .attr("size", "is required but missing; the model is malformed")
    })?;
    let size = usize::try_from(size)
        .ok()
        .filter(|&s| (1..=i32::MAX as usize).contains(&s))
        .ok_or_else(|| {
            n.ctx
                .attr("size", format!("is {size}; it must be at least 1"))
        })?;
    Ok(Op::Lrn(LrnAttrs {
        alpha: n.a.float_or("alpha", 1e-4)?,
        beta: n.a.float_or("beta", 0.75)?,
        bias: n.a.float_or("bias", 1.0)?,
        size,
    })
    .into())
}
