//! The reductions ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1,
//! ReduceL2, ReduceLogSum, ReduceLogSumExp and ReduceSumSquare: one op with a kind. `axes`
//! is an attribute before opset 18 (13 for ReduceSum) and an optional input from then on;
//! `keepdims` (default 1) keeps the reduced axes with size 1; without axes every axis is
//! reduced, unless `noop_with_empty_axes` (with the input form) makes the op the identity.
//! Spec: https://onnx.ai/onnx/operators/onnx__ReduceSum.html (and the other ReduceX pages)
//!
//! Reference semantics: floats computed in f64 and rounded once; integers in their own type
//! (wrapping, as numpy); bool for ReduceMax/ReduceMin (any/all, opset 20). An empty
//! reduction gives the kind's identity: 0 for sums, 1 for the product, -inf/+inf (integers:
//! MIN/MAX) for max/min, ln 0 = -inf for the logarithms, 0 / 0 = NaN for the mean.
//! ReduceLogSumExp subtracts the largest finite element first, as ONNX's reference does.

use super::common::{Arith, Elem, elems, floats, from_f64s, infer_on, output, strides_of, unravel};
use super::{InferInput, input, tensor};
use crate::tensor::{Tensor, TensorData};
use crate::types::{DType, TensorType, normalize_axis};

/// Which reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceKind {
    Sum,
    Mean,
    Max,
    Min,
    Prod,
    L1,
    L2,
    LogSum,
    LogSumExp,
    SumSquare,
}

impl ReduceKind {
    pub const ALL: [ReduceKind; 10] = [
        ReduceKind::Sum,
        ReduceKind::Mean,
        ReduceKind::Max,
        ReduceKind::Min,
        ReduceKind::Prod,
        ReduceKind::L1,
        ReduceKind::L2,
        ReduceKind::LogSum,
        ReduceKind::LogSumExp,
        ReduceKind::SumSquare,
    ];

    /// The ONNX op name.
    pub fn name(self) -> &'static str {
        match self {
            ReduceKind::Sum => "ReduceSum",
            ReduceKind::Mean => "ReduceMean",
            ReduceKind::Max => "ReduceMax",
            ReduceKind::Min => "ReduceMin",
            ReduceKind::Prod => "ReduceProd",
            ReduceKind::L1 => "ReduceL1",
            ReduceKind::L2 => "ReduceL2",
            ReduceKind::LogSum => "ReduceLogSum",
            ReduceKind::LogSumExp => "ReduceLogSumExp",
            ReduceKind::SumSquare => "ReduceSumSquare",
        }
    }

    /// The kind of the ONNX op `name`.
    pub fn parse(name: &str) -> Option<ReduceKind> {
        ReduceKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether kiln defines the reduction on integer tensors (the rest need floats).
    pub fn takes_integers(self) -> bool {
        matches!(
            self,
            ReduceKind::Sum
                | ReduceKind::Max
                | ReduceKind::Min
                | ReduceKind::Prod
                | ReduceKind::L1
                | ReduceKind::SumSquare
        )
    }

    /// Whether the reduction is defined on bool tensors (any / all).
    pub fn takes_bool(self) -> bool {
        matches!(self, ReduceKind::Max | ReduceKind::Min)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ReduceAttrs {
    /// The `axes` attribute of opsets < 18; `None` when absent (from opset 18 the axes are
    /// the optional input 1).
    pub axes: Option<Vec<i64>>,
    pub keepdims: bool,
    /// With no axes, reduce nothing (the identity) instead of everything.
    pub noop_with_empty_axes: bool,
}

impl Default for ReduceAttrs {
    fn default() -> Self {
        ReduceAttrs {
            axes: None,
            keepdims: true,
            noop_with_empty_axes: false,
        }
    }
}

/// The reduced axes (normalised, ascending) of a reduction over a rank-`rank` input, from
/// the attribute or the `axes` operand (input 1). An operand known only at run time is
/// accepted when it has no elements (its value is then known: empty).
pub fn reduced_axes(
    a: &ReduceAttrs,
    rank: usize,
    operand: Option<InferInput>,
) -> Result<Vec<usize>, String> {
    let listed: Vec<i64> = match (&a.axes, operand) {
        (Some(v), _) => v.clone(),
        (None, None) => Vec::new(),
        (None, Some(i)) => match i.value {
            Some(t) => t
                .as_i64_vec()
                .filter(|_| t.shape.len() <= 1)
                .ok_or_else(|| format!("`axes` must be a 1-D integer tensor, got {}", i.ty))?,
            None if i.ty.numel() == 0 => Vec::new(),
            None => {
                return Err(
                    "the `axes` operand is only known at run time; kiln needs it as a \
                            constant (an initializer or Constant node): it decides the output \
                            shape"
                        .into(),
                );
            }
        },
    };
    if listed.is_empty() {
        return Ok(if a.noop_with_empty_axes {
            Vec::new()
        } else {
            (0..rank).collect()
        });
    }
    let mut axes = Vec::with_capacity(listed.len());
    for &ax in &listed {
        let d = normalize_axis(ax, rank)
            .ok_or_else(|| format!("axis {ax} is out of range for rank {rank}"))?;
        if axes.contains(&d) {
            return Err(format!("axis {ax} is listed twice in {listed:?}"));
        }
        axes.push(d);
    }
    axes.sort_unstable();
    Ok(axes)
}

pub(crate) fn infer(
    kind: ReduceKind,
    a: &ReduceAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "data")?.ty;
    let ok = match x.dtype {
        DType::Bool => kind.takes_bool(),
        t if t.is_float() => true,
        _ => kind.takes_integers(),
    };
    if !ok {
        let what = if kind.takes_integers() {
            "numeric"
        } else {
            "floating-point"
        };
        return Err(format!(
            "kiln's {} is defined for {what} tensors, got {x}",
            kind.name()
        ));
    }
    let axes = reduced_axes(a, x.rank(), inputs.get(1).copied().flatten())?;
    let shape: Vec<usize> = (0..x.rank())
        .filter_map(|d| match (axes.contains(&d), a.keepdims) {
            (false, _) => Some(x.shape[d]),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    Ok(vec![TensorType::new(x.dtype, shape)])
}

/// The input's elements grouped by output element: `groups[o]` lists the flat input
/// indices reduced into output element `o`, in input (row-major) order. Also used by
/// ArgMax/ArgMin, whose single reduced axis makes the position in a group the index.
pub(crate) fn groups(shape: &[usize], axes: &[usize]) -> Vec<Vec<usize>> {
    // The output index of each input element: its coordinates with the reduced ones zeroed,
    // in the strides of the output with the reduced axes kept as 1.
    let kept: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(d, &n)| if axes.contains(&d) { 1 } else { n })
        .collect();
    let out_strides = strides_of(&kept);
    let mut groups = vec![Vec::new(); kept.iter().product()];
    let mut coord = vec![0usize; shape.len()];
    for i in 0..shape.iter().product() {
        unravel(i, shape, &mut coord);
        let o: usize = coord
            .iter()
            .zip(&out_strides)
            .enumerate()
            .filter(|(d, _)| !axes.contains(d))
            .map(|(_, (&c, &s))| c * s)
            .sum();
        groups[o].push(i);
    }
    groups
}

/// One reduction of floats, in f64.
fn reduce_f64(kind: ReduceKind, v: impl Iterator<Item = f64> + Clone) -> f64 {
    let sum = |it: &mut dyn Iterator<Item = f64>| it.fold(0.0, |a, b| a + b);
    match kind {
        ReduceKind::Sum => sum(&mut v.clone()),
        ReduceKind::Mean => sum(&mut v.clone()) / v.count() as f64,
        // NaN propagates, as in numpy.
        ReduceKind::Max => v.fold(f64::NEG_INFINITY, |a, b| {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                a.max(b)
            }
        }),
        ReduceKind::Min => v.fold(f64::INFINITY, |a, b| {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                a.min(b)
            }
        }),
        ReduceKind::Prod => v.fold(1.0, |a, b| a * b),
        ReduceKind::L1 => sum(&mut v.map(f64::abs)),
        ReduceKind::L2 => sum(&mut v.map(|x| x * x)).sqrt(),
        ReduceKind::SumSquare => sum(&mut v.map(|x| x * x)),
        ReduceKind::LogSum => sum(&mut v.clone()).ln(),
        ReduceKind::LogSumExp => {
            let m = v
                .clone()
                .filter(|x| x.is_finite())
                .fold(f64::NEG_INFINITY, f64::max);
            let m = if m == f64::NEG_INFINITY { 0.0 } else { m };
            sum(&mut v.map(|x| (x - m).exp())).ln() + m
        }
    }
}

/// One reduction of integers in their own type (wrapping); only the kinds that take
/// integers.
fn reduce_int<T: Arith + Ord + num_bounds::Bounded>(kind: ReduceKind, v: &[T]) -> T {
    let zero = T::default();
    let one = T::from_f64(1.0);
    match kind {
        ReduceKind::Max => v.iter().copied().fold(T::LOWEST, Ord::max),
        ReduceKind::Min => v.iter().copied().fold(T::HIGHEST, Ord::min),
        ReduceKind::Prod => v.iter().fold(one, |a, &b| a.mul(b)),
        ReduceKind::L1 => v
            .iter()
            .fold(zero, |a, &b| a.add(if b < zero { zero.sub(b) } else { b })),
        ReduceKind::SumSquare => v.iter().fold(zero, |a, &b| a.add(b.mul(b))),
        _ => v.iter().fold(zero, |a, &b| a.add(b)),
    }
}

mod num_bounds {
    /// The largest value of an integer type: the identity of min.
    pub trait Bounded {
        const HIGHEST: Self;
    }
    macro_rules! bounded {
        ($($t:ty),*) => {$(impl Bounded for $t { const HIGHEST: Self = <$t>::MAX; })*};
    }
    bounded!(i8, i16, i32, i64, u8, u16, u32, u64);
}

pub(crate) fn eval(
    kind: ReduceKind,
    a: &ReduceAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer(kind, a, ii))?.remove(0);
    let x = tensor(inputs, 0, "data")?;
    let operand = inputs.get(1).copied().flatten();
    let operand_ty = operand.map(Tensor::ty);
    let axes = reduced_axes(
        a,
        x.shape.len(),
        operand
            .zip(operand_ty.as_ref())
            .map(|(t, ty)| InferInput { ty, value: Some(t) }),
    )?;
    let groups = groups(&x.shape, &axes);
    let data = match x.dtype() {
        t if t.is_float() => {
            let v = floats(x, "data")?;
            let r = groups
                .iter()
                .map(|g| reduce_f64(kind, g.iter().map(|&i| v[i])))
                .collect();
            from_f64s(t, r)?
        }
        DType::Bool => {
            let TensorData::Bool(v) = &x.data else {
                return Err(format!("data has an unexpected element type {}", x.dtype()));
            };
            let any = kind == ReduceKind::Max;
            TensorData::Bool(
                groups
                    .iter()
                    .map(|g| {
                        if any {
                            g.iter().any(|&i| v[i])
                        } else {
                            g.iter().all(|&i| v[i])
                        }
                    })
                    .collect(),
            )
        }
        t => {
            macro_rules! ints {
                ($($d:ident => $T:ty),*) => {
                    match t {
                        $(DType::$d => {
                            let v = elems::<$T>(x, "data")?;
                            let r: Vec<$T> = groups
                                .iter()
                                .map(|g| {
                                    let e: Vec<$T> = g.iter().map(|&i| v[i]).collect();
                                    reduce_int(kind, &e)
                                })
                                .collect();
                            <$T as Elem>::wrap(r)
                        })*
                        other => return Err(format!("unexpected element type {other}")),
                    }
                };
            }
            ints!(I8 => i8, I16 => i16, I32 => i32, I64 => i64, U8 => u8, U16 => u16, U32 => u32, U64 => u64)
        }
    };
    Ok(vec![output(&ty, data)?])
}

/// ArgMax / ArgMin (opsets 1, 11, 12, 13): the index along `axis` of the largest (smallest)
/// element, as int64; `keepdims` (default 1) keeps the axis with size 1; ties go to the first
/// index, or the last with `select_last_index` (12). NaN counts as larger and smaller than
/// every number (numpy's argmax/argmin return the first NaN).
/// Spec: https://onnx.ai/onnx/operators/onnx__ArgMax.html
#[derive(Clone, Debug, PartialEq)]
pub struct ArgReduceAttrs {
    /// ArgMax (true) or ArgMin.
    pub max: bool,
    pub axis: i64,
    pub keepdims: bool,
    pub select_last_index: bool,
}

impl ArgReduceAttrs {
    pub fn name(&self) -> &'static str {
        if self.max { "ArgMax" } else { "ArgMin" }
    }
}

pub(crate) fn infer_arg(
    a: &ArgReduceAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "data")?.ty;
    if x.dtype == DType::Bool {
        return Err(format!(
            "{} is defined for numeric tensors, got {x}",
            a.name()
        ));
    }
    let axis = normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    if x.shape[axis] == 0 {
        return Err(format!(
            "axis {} of {x} is empty, so there is no index to return",
            a.axis
        ));
    }
    let shape: Vec<usize> = (0..x.rank())
        .filter_map(|d| match (d == axis, a.keepdims) {
            (false, _) => Some(x.shape[d]),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    Ok(vec![TensorType::new(DType::I64, shape)])
}

/// The winning position in each group.
fn arg_of<T: Elem>(v: &[T], groups: &[Vec<usize>], max: bool, last: bool) -> Vec<i64> {
    #[allow(clippy::eq_op)]
    let nan = |x: T| x != x;
    groups
        .iter()
        .map(|g| {
            let mut best = 0usize;
            for (j, &i) in g.iter().enumerate().skip(1) {
                let (x, b) = (v[i], v[g[best]]);
                let better = if nan(x) {
                    !nan(b) || last
                } else if nan(b) {
                    false
                } else if max {
                    x > b || (last && x == b)
                } else {
                    x < b || (last && x == b)
                };
                if better {
                    best = j;
                }
            }
            best as i64
        })
        .collect()
}

pub(crate) fn eval_arg(
    a: &ArgReduceAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_arg(a, ii))?.remove(0);
    let x = tensor(inputs, 0, "data")?;
    let axis = normalize_axis(a.axis, x.shape.len())
        .ok_or_else(|| format!("axis {} is out of range", a.axis))?;
    let groups = groups(&x.shape, &[axis]);
    let r = super::common::numeric_dispatch!(x.dtype(), T => {
        arg_of(&elems::<T>(x, "data")?, &groups, a.max, a.select_last_index)
    }, bool => return Err("bool input".into()));
    Ok(vec![output(&ty, TensorData::I64(r))?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;

    #[test]
    fn reductions_of_each_kind() {
        let x = f32s(&[2, 3], &[1.0, -2.0, 3.0, 4.0, 0.5, -1.0]);
        let r = |k| {
            let op = Op::Reduce(
                k,
                ReduceAttrs {
                    axes: Some(vec![1]),
                    keepdims: false,
                    noop_with_empty_axes: false,
                },
            );
            as_f32(&run1(&op, &[&x]))
        };
        assert_close(&r(ReduceKind::Sum), &[2.0, 3.5]);
        assert_close(&r(ReduceKind::Max), &[3.0, 4.0]);
        assert_close(&r(ReduceKind::Min), &[-2.0, -1.0]);
        assert_close(&r(ReduceKind::Prod), &[-6.0, -2.0]);
        assert_close(&r(ReduceKind::L1), &[6.0, 5.5]);
        assert_close(&r(ReduceKind::SumSquare), &[14.0, 17.25]);
        assert_close(&r(ReduceKind::L2), &[14f32.sqrt(), 17.25f32.sqrt()]);
        assert_close(&r(ReduceKind::LogSum), &[2f32.ln(), 3.5f32.ln()]);
        let lse = |v: &[f32]| v.iter().map(|x| x.exp()).sum::<f32>().ln();
        assert_close(
            &r(ReduceKind::LogSumExp),
            &[lse(&[1.0, -2.0, 3.0]), lse(&[4.0, 0.5, -1.0])],
        );
        // Large inputs do not overflow in LogSumExp.
        let big = f32s(&[2], &[1000.0, 1000.0]);
        let op = Op::Reduce(ReduceKind::LogSumExp, ReduceAttrs::default());
        assert_close(&as_f32(&run1(&op, &[&big])), &[1000.0 + 2f32.ln()]);
    }

    #[test]
    fn empty_reductions_give_the_identity() {
        let x = Tensor::new(vec![2, 0], TensorData::F32(vec![])).unwrap();
        let r = |k| {
            let op = Op::Reduce(
                k,
                ReduceAttrs {
                    axes: Some(vec![1]),
                    keepdims: true,
                    noop_with_empty_axes: false,
                },
            );
            as_f32(&run1(&op, &[&x]))
        };
        assert_eq!(r(ReduceKind::Sum), [0.0, 0.0]);
        assert_eq!(r(ReduceKind::Prod), [1.0, 1.0]);
        assert_eq!(r(ReduceKind::Max), [f32::NEG_INFINITY; 2]);
        assert_eq!(r(ReduceKind::Min), [f32::INFINITY; 2]);
        assert_eq!(r(ReduceKind::LogSum), [f32::NEG_INFINITY; 2]);
        assert_eq!(r(ReduceKind::LogSumExp), [f32::NEG_INFINITY; 2]);
        assert!(r(ReduceKind::Mean).iter().all(|v| v.is_nan()));
    }

    #[test]
    fn integer_and_bool_reductions() {
        let x = Tensor::new(vec![2, 2], TensorData::I32(vec![i32::MAX, 1, -3, 2])).unwrap();
        let op = |k| {
            Op::Reduce(
                k,
                ReduceAttrs {
                    axes: Some(vec![1]),
                    keepdims: false,
                    noop_with_empty_axes: false,
                },
            )
        };
        // Wrapping, as numpy's int32 sums.
        assert_eq!(
            run1(&op(ReduceKind::Sum), &[&x]).data,
            TensorData::I32(vec![i32::MIN, -1])
        );
        assert_eq!(
            run1(&op(ReduceKind::L1), &[&x]).data,
            TensorData::I32(vec![i32::MIN, 5])
        );
        assert_eq!(
            run1(&op(ReduceKind::Min), &[&x]).data,
            TensorData::I32(vec![1, -3])
        );
        let b = Tensor::new(vec![2, 2], TensorData::Bool(vec![true, false, true, true])).unwrap();
        assert_eq!(
            run1(&op(ReduceKind::Max), &[&b]).data,
            TensorData::Bool(vec![true, true])
        );
        assert_eq!(
            run1(&op(ReduceKind::Min), &[&b]).data,
            TensorData::Bool(vec![false, true])
        );
        assert!(run(&op(ReduceKind::Sum), &[Some(&b)]).is_err());
        assert!(run(&op(ReduceKind::L2), &[Some(&x)]).is_err());
    }

    #[test]
    fn arg_max_and_min_with_ties_and_nan() {
        let arg = |max, axis, last| {
            Op::ArgReduce(ArgReduceAttrs {
                max,
                axis,
                keepdims: true,
                select_last_index: last,
            })
        };
        let x = f32s(&[2, 3], &[1.0, 3.0, 3.0, f32::NAN, 0.0, f32::NAN]);
        let y = run1(&arg(true, 1, false), &[&x]);
        assert_eq!(y.shape, vec![2, 1]);
        assert_eq!(y.data, TensorData::I64(vec![1, 0]));
        assert_eq!(
            run1(&arg(true, 1, true), &[&x]).data,
            TensorData::I64(vec![2, 2])
        );
        assert_eq!(
            run1(&arg(false, -1, false), &[&x]).data,
            TensorData::I64(vec![0, 0])
        );
        assert_eq!(
            run1(&arg(false, 0, false), &[&x]).data,
            TensorData::I64(vec![1, 1, 1])
        );
        assert!(run(&arg(true, 2, false), &[Some(&x)]).is_err());
    }
    use crate::ops::common::test_util::{as_f32, assert_close, f32s, iota, run, run1};
    use crate::tensor::TensorData;

    fn mean(axes: Option<Vec<i64>>, keepdims: bool) -> Op {
        Op::Reduce(
            ReduceKind::Mean,
            ReduceAttrs {
                axes,
                keepdims,
                noop_with_empty_axes: false,
            },
        )
    }

    #[test]
    fn spec_example() {
        // test_reduce_mean_keepdims_example: axes [1] of [3, 2, 2].
        let x = f32s(
            &[3, 2, 2],
            &[
                5.0, 1.0, 20.0, 2.0, 30.0, 1.0, 40.0, 2.0, 55.0, 1.0, 60.0, 2.0,
            ],
        );
        let y = run1(&mean(Some(vec![1]), true), &[&x]);
        assert_eq!(y.shape, vec![3, 1, 2]);
        assert_close(&as_f32(&y), &[12.5, 1.5, 35.0, 1.5, 57.5, 1.5]);
        let y = run1(&mean(Some(vec![-2]), false), &[&x]);
        assert_eq!(y.shape, vec![3, 2]);
        // No axes: everything.
        let y = run1(&mean(None, true), &[&x]);
        assert_eq!(y.shape, vec![1, 1, 1]);
        assert_close(&as_f32(&y), &[18.25]);
    }

    #[test]
    fn axes_from_the_operand() {
        let x = iota(&[2, 3, 4]);
        let axes = Tensor::new(vec![2], TensorData::I64(vec![0, 2])).unwrap();
        let y = run1(&mean(None, false), &[&x, &axes]);
        assert_eq!(y.shape, vec![3]);
        // Means of {0..3, 12..15}, {4..7, 16..19}, {8..11, 20..23}.
        assert_close(&as_f32(&y), &[7.5, 11.5, 15.5]);
        // An empty operand: everything, or nothing with noop_with_empty_axes.
        let none = Tensor::new(vec![0], TensorData::I64(vec![])).unwrap();
        let y = run1(&mean(None, true), &[&x, &none]);
        assert_close(&as_f32(&y), &[11.5]);
        let noop = Op::Reduce(
            ReduceKind::Mean,
            ReduceAttrs {
                axes: None,
                keepdims: true,
                noop_with_empty_axes: true,
            },
        );
        assert_eq!(run1(&noop, &[&x, &none]), x);
    }

    #[test]
    fn bad_axes_and_types_are_errors() {
        let x = iota(&[2, 3]);
        assert!(run(&mean(Some(vec![2]), true), &[Some(&x)]).is_err());
        assert!(run(&mean(Some(vec![1, -1]), true), &[Some(&x)]).is_err());
        let xi = Tensor::new(vec![2], TensorData::I32(vec![1, 2])).unwrap();
        assert!(run(&mean(None, true), &[Some(&xi)]).is_err());
        // A run-time operand with elements cannot be resolved.
        let ty = TensorType::new(crate::DType::I64, vec![1]);
        let op = InferInput {
            ty: &ty,
            value: None,
        };
        assert!(reduced_axes(&ReduceAttrs::default(), 2, Some(op)).is_err());
    }
}
