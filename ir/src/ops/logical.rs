//! Comparisons and logic, all with multidirectional broadcasting; their outputs are bool
//! tensors. Equal (opsets 7, 11, 13, 19: every numeric type and bool), Less, LessOrEqual,
//! Greater, GreaterOrEqual (7, 9, 12, 13, 16: numeric types), And, Or, Xor (7: bool), Not
//! (1: bool) and Where (9, 16: a bool condition choosing between two tensors of any one type).
//! Predicates of one float tensor ([`PredicateOp`]): IsNaN (9, 13, 20) and IsInf (10, 20).
//! Specs: https://onnx.ai/onnx/operators/onnx__Equal.html (Less, ... alike),
//! .../onnx__And.html, .../onnx__Not.html, .../onnx__Where.html, .../onnx__IsNaN.html,
//! .../onnx__IsInf.html
//!
//! Reference semantics: comparisons in the operands' own type (IEEE for floats: NaN compares
//! unequal and unordered), as numpy compares. Predicates on the value widened to f64 (exact).

use super::common::{
    Elem, broadcast_index, concat_data, elems, floats, gather, infer_on, output, same_type_pair,
};
use super::{InferInput, float_input, input, tensor};
use crate::tensor::{Tensor, TensorData};
use crate::types::{DType, TensorType, broadcast_shapes};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CompareOp {
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl CompareOp {
    pub fn name(self) -> &'static str {
        match self {
            CompareOp::Equal => "Equal",
            CompareOp::Less => "Less",
            CompareOp::LessOrEqual => "LessOrEqual",
            CompareOp::Greater => "Greater",
            CompareOp::GreaterOrEqual => "GreaterOrEqual",
        }
    }

    /// The comparison on one pair of values.
    pub fn apply<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            CompareOp::Equal => a == b,
            CompareOp::Less => a < b,
            CompareOp::LessOrEqual => a <= b,
            CompareOp::Greater => a > b,
            CompareOp::GreaterOrEqual => a >= b,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogicalOp {
    And,
    Or,
    Xor,
}

impl LogicalOp {
    pub fn name(self) -> &'static str {
        match self {
            LogicalOp::And => "And",
            LogicalOp::Or => "Or",
            LogicalOp::Xor => "Xor",
        }
    }

    pub fn apply(self, a: bool, b: bool) -> bool {
        match self {
            LogicalOp::And => a & b,
            LogicalOp::Or => a | b,
            LogicalOp::Xor => a ^ b,
        }
    }
}

/// A test of each element of one float tensor (f16 and bf16 included; widened to f32 for the
/// generated code), giving a bool tensor of its shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PredicateOp {
    IsNaN,
    /// The infinities of the signs asked for (`detect_negative`, `detect_positive`).
    IsInf {
        negative: bool,
        positive: bool,
    },
}

impl PredicateOp {
    pub fn name(self) -> &'static str {
        match self {
            PredicateOp::IsNaN => "IsNaN",
            PredicateOp::IsInf { .. } => "IsInf",
        }
    }

    /// The predicate of one value.
    pub fn apply(self, x: f64) -> bool {
        match self {
            PredicateOp::IsNaN => x.is_nan(),
            PredicateOp::IsInf { negative, positive } => {
                (negative && x == f64::NEG_INFINITY) || (positive && x == f64::INFINITY)
            }
        }
    }
}

pub(crate) fn infer_predicate(
    op: PredicateOp,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = float_input(inputs, 0, "X", op.name())?;
    Ok(vec![TensorType::new(DType::Bool, x.shape.clone())])
}

pub(crate) fn eval_predicate(
    op: PredicateOp,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_predicate(op, ii))?.remove(0);
    let v = floats(tensor(inputs, 0, "X")?, "X")?
        .into_iter()
        .map(|x| op.apply(x))
        .collect();
    Ok(vec![output(&ty, TensorData::Bool(v))?])
}

pub(crate) fn infer_compare(
    op: CompareOp,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let TensorType { dtype, shape } = same_type_pair(op.name(), inputs)?;
    if dtype == DType::Bool && op != CompareOp::Equal {
        return Err(format!("{} is not defined for bool tensors", op.name()));
    }
    Ok(vec![TensorType::new(DType::Bool, shape)])
}

pub(crate) fn infer_logical(
    op: LogicalOp,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let TensorType { dtype, shape } = same_type_pair(op.name(), inputs)?;
    if dtype != DType::Bool {
        return Err(format!(
            "{} is defined for bool tensors, got {dtype}",
            op.name()
        ));
    }
    Ok(vec![TensorType::new(DType::Bool, shape)])
}

pub(crate) fn infer_not(inputs: &[Option<InferInput>]) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    if x.dtype != DType::Bool {
        return Err(format!("Not is defined for bool tensors, got {x}"));
    }
    Ok(vec![x.clone()])
}

pub(crate) fn infer_where(inputs: &[Option<InferInput>]) -> Result<Vec<TensorType>, String> {
    let c = input(inputs, 0, "condition")?.ty;
    let x = input(inputs, 1, "X")?.ty;
    let y = input(inputs, 2, "Y")?.ty;
    if c.dtype != DType::Bool {
        return Err(format!("the condition must be a bool tensor, got {c}"));
    }
    if x.dtype != y.dtype {
        return Err(format!(
            "Where needs equal types for X and Y, got {x} and {y}"
        ));
    }
    let shape = broadcast_shapes(&c.shape, &x.shape)
        .and_then(|s| broadcast_shapes(&s, &y.shape))
        .ok_or_else(|| format!("shapes {c}, {x} and {y} do not broadcast"))?;
    Ok(vec![TensorType::new(x.dtype, shape)])
}

fn bools<'a>(t: &'a Tensor, what: &str) -> Result<&'a [bool], String> {
    match &t.data {
        TensorData::Bool(v) => Ok(v),
        other => Err(format!("{what} must be bool, got {}", other.dtype())),
    }
}

/// `f` on every broadcast pair of elements of `a` and `b`.
fn zip<T: Copy>(
    a: &Tensor,
    av: &[T],
    b: &Tensor,
    bv: &[T],
    shape: &[usize],
    f: impl Fn(T, T) -> bool,
) -> Vec<bool> {
    let ia = broadcast_index(&a.shape, shape);
    let ib = broadcast_index(&b.shape, shape);
    ia.iter().zip(&ib).map(|(&i, &j)| f(av[i], bv[j])).collect()
}

fn compare<T: Elem>(
    op: CompareOp,
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
) -> Result<Vec<bool>, String> {
    let av = elems::<T>(a, "A")?;
    let bv = elems::<T>(b, "B")?;
    Ok(zip(a, &av, b, &bv, shape, |x, y| op.apply(x, y)))
}

pub(crate) fn eval_compare(
    op: CompareOp,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_compare(op, ii))?.remove(0);
    let a = tensor(inputs, 0, "A")?;
    let b = tensor(inputs, 1, "B")?;
    let v = super::common::numeric_dispatch!(a.dtype(), T => compare::<T>(op, a, b, &ty.shape)?,
        bool => zip(a, bools(a, "A")?, b, bools(b, "B")?, &ty.shape, |x, y| op.apply(x, y)));
    Ok(vec![output(&ty, TensorData::Bool(v))?])
}

pub(crate) fn eval_logical(
    op: LogicalOp,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_logical(op, ii))?.remove(0);
    let a = tensor(inputs, 0, "A")?;
    let b = tensor(inputs, 1, "B")?;
    let v = zip(a, bools(a, "A")?, b, bools(b, "B")?, &ty.shape, |x, y| {
        op.apply(x, y)
    });
    Ok(vec![output(&ty, TensorData::Bool(v))?])
}

pub(crate) fn eval_not(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, infer_not)?.remove(0);
    let v = bools(tensor(inputs, 0, "X")?, "X")?
        .iter()
        .map(|b| !b)
        .collect();
    Ok(vec![output(&ty, TensorData::Bool(v))?])
}

pub(crate) fn eval_where(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, infer_where)?.remove(0);
    let c = tensor(inputs, 0, "condition")?;
    let x = tensor(inputs, 1, "X")?;
    let y = tensor(inputs, 2, "Y")?;
    let cv = bools(c, "condition")?;
    let ic = broadcast_index(&c.shape, &ty.shape);
    let ix = broadcast_index(&x.shape, &ty.shape);
    let iy = broadcast_index(&y.shape, &ty.shape);
    // X and Y one after the other; each output element picks from one of them.
    let both = concat_data(&[&x.data, &y.data])?;
    let n = x.numel();
    let idx: Vec<usize> = (0..ic.len())
        .map(|k| if cv[ic[k]] { ix[k] } else { n + iy[k] })
        .collect();
    Ok(vec![output(&ty, gather(&both, &idx))?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use crate::ops::common::test_util::{f32s, run, run1};

    fn t(shape: &[usize], data: TensorData) -> Tensor {
        Tensor::new(shape.to_vec(), data).unwrap()
    }

    #[test]
    fn comparisons_broadcast_and_treat_nan_as_unordered() {
        let a = f32s(&[2, 2], &[1.0, f32::NAN, 3.0, -0.0]);
        let b = f32s(&[2], &[1.0, 0.0]);
        let eq = run1(&Op::Compare(CompareOp::Equal), &[&a, &b]);
        assert_eq!(eq.data, TensorData::Bool(vec![true, false, false, true]));
        let le = run1(&Op::Compare(CompareOp::LessOrEqual), &[&a, &b]);
        assert_eq!(le.data, TensorData::Bool(vec![true, false, false, true]));
        let gt = run1(&Op::Compare(CompareOp::Greater), &[&a, &b]);
        assert_eq!(gt.data, TensorData::Bool(vec![false, false, true, false]));
        // u64 beyond 2^53 compares exactly.
        let x = t(&[1], TensorData::U64(vec![u64::MAX]));
        let y = t(&[1], TensorData::U64(vec![u64::MAX - 1]));
        let gt = run1(&Op::Compare(CompareOp::Greater), &[&x, &y]);
        assert_eq!(gt.data, TensorData::Bool(vec![true]));
        let bb = t(&[2], TensorData::Bool(vec![true, false]));
        let eq = run1(&Op::Compare(CompareOp::Equal), &[&bb, &bb]);
        assert_eq!(eq.data, TensorData::Bool(vec![true, true]));
        assert!(run(&Op::Compare(CompareOp::Less), &[Some(&bb), Some(&bb)]).is_err());
        assert!(run(&Op::Compare(CompareOp::Less), &[Some(&a), Some(&x)]).is_err());
    }

    #[test]
    fn predicates_of_nan_and_the_infinities() {
        let x = f32s(
            &[5],
            &[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, f32::MAX],
        );
        let is = |op| run1(&Op::Predicate(op), &[&x]).data;
        let b = |v: [bool; 5]| TensorData::Bool(v.to_vec());
        assert_eq!(
            is(PredicateOp::IsNaN),
            b([true, false, false, false, false])
        );
        let inf = |negative, positive| PredicateOp::IsInf { negative, positive };
        assert_eq!(is(inf(true, true)), b([false, true, true, false, false]));
        assert_eq!(is(inf(false, true)), b([false, true, false, false, false]));
        assert_eq!(is(inf(true, false)), b([false, false, true, false, false]));
        assert_eq!(is(inf(false, false)), b([false; 5]));
        // Half precision: the infinity and NaN of f16.
        let h = t(&[2], TensorData::F16(vec![0x7c00, 0x7e00]));
        let y = run1(&Op::Predicate(PredicateOp::IsNaN), &[&h]);
        assert_eq!(y.data, TensorData::Bool(vec![false, true]));
        let i = t(&[1], TensorData::I32(vec![1]));
        assert!(run(&Op::Predicate(PredicateOp::IsNaN), &[Some(&i)]).is_err());
    }

    #[test]
    fn where_picks_and_broadcasts_all_three() {
        let c = t(&[2, 1], TensorData::Bool(vec![true, false]));
        let x = t(&[2], TensorData::I64(vec![1, 2]));
        let y = t(&[], TensorData::I64(vec![9]));
        let w = run1(&Op::Where, &[&c, &x, &y]);
        assert_eq!(w.shape, vec![2, 2]);
        assert_eq!(w.data, TensorData::I64(vec![1, 2, 9, 9]));
        assert!(run(&Op::Where, &[Some(&x), Some(&x), Some(&y)]).is_err());
    }
}
