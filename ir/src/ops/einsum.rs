//! Einsum, by brute force over every combination of the labels' indices: repeated labels in
//! one operand take diagonals, labels missing from the output are summed over, `...` stands
//! for broadcast axes. The equation is parsed once, at import, into [`EinsumAttrs`].

use super::common::{floats, from_f64s, infer_on, output};
use super::{InferInput, input};
use crate::tensor::Tensor;
use crate::types::TensorType;

/// A parsed equation: each operand's labels and the output's. Letters are 0..52; the
/// broadcast axes of `...` are 100, 101, ... (aligned to the right across operands).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EinsumAttrs {
    pub equation: String,
}

/// Labels of one term; `None` marks where `...` stood.
fn term(t: &str) -> Result<Vec<Option<u32>>, String> {
    let mut out = Vec::new();
    let mut rest = t;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("...") {
            if out.contains(&None) {
                return Err(format!("term {t:?} has more than one `...`"));
            }
            out.push(None);
            rest = r;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        let l = match c {
            'a'..='z' => c as u32 - 'a' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 26,
            _ => return Err(format!("term {t:?} has {c:?}; labels are letters")),
        };
        out.push(Some(l));
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}

/// Resolved labels: per operand (one per axis), the output's, and each label's size.
pub struct EinsumPlan {
    pub operands: Vec<Vec<u32>>,
    pub output: Vec<u32>,
    /// Output labels first, then the summed ones.
    pub labels: Vec<u32>,
    pub dims: Vec<usize>,
}

impl EinsumPlan {
    /// Strides of operand `k` per label of `labels` (0 where it broadcasts or lacks it;
    /// summed where a label repeats, which walks the diagonal).
    pub fn strides(&self, k: usize, shape: &[usize]) -> Vec<usize> {
        let ls = &self.operands[k];
        let row = super::common::strides_of(shape);
        self.labels
            .iter()
            .enumerate()
            .map(|(li, l)| {
                ls.iter()
                    .enumerate()
                    .filter(|&(p, x)| x == l && !(shape[p] == 1 && self.dims[li] > 1))
                    .map(|(p, _)| row[p])
                    .sum()
            })
            .collect()
    }
}

pub fn plan(a: &EinsumAttrs, shapes: &[&[usize]]) -> Result<EinsumPlan, String> {
    let eq: String = a.equation.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (eq.as_str(), None),
    };
    let terms: Vec<Vec<Option<u32>>> = lhs.split(',').map(term).collect::<Result<_, _>>()?;
    if terms.len() != shapes.len() {
        return Err(format!(
            "the equation {:?} has {} operands but the node has {} inputs",
            a.equation,
            terms.len(),
            shapes.len()
        ));
    }
    // The broadcast rank of `...`, and each operand's labels with it expanded.
    let mut ell = 0;
    for (t, s) in terms.iter().zip(shapes) {
        let named = t.iter().filter(|l| l.is_some()).count();
        if t.contains(&None) {
            if s.len() < named {
                return Err(format!("operand of shape {s:?} has fewer axes than labels"));
            }
            ell = ell.max(s.len() - named);
        } else if s.len() != named {
            return Err(format!(
                "operand of shape {s:?} has {} axes but its term names {named}",
                s.len()
            ));
        }
    }
    let expand = |t: &[Option<u32>], e: usize| -> Vec<u32> {
        t.iter()
            .flat_map(|l| match l {
                Some(l) => vec![*l],
                None => (ell - e..ell).map(|j| 100 + j as u32).collect(),
            })
            .collect()
    };
    let operands: Vec<Vec<u32>> = terms
        .iter()
        .zip(shapes)
        .map(|(t, s)| {
            expand(
                t,
                s.len() + t.iter().filter(|l| l.is_none()).count() - t.len(),
            )
        })
        .collect();
    let output: Vec<u32> = match rhs {
        Some(r) => {
            let t = term(r)?;
            let o = expand(&t, ell);
            for l in &o {
                if !operands.iter().any(|op| op.contains(l)) {
                    return Err(format!("output label {l} appears in no operand"));
                }
            }
            o
        }
        None => {
            let mut o: Vec<u32> = (0..ell as u32).map(|j| 100 + j).collect();
            let mut once: Vec<u32> = (0..52)
                .filter(|l| operands.iter().flatten().filter(|x| *x == l).count() == 1)
                .collect();
            once.sort_unstable();
            o.extend(once);
            o
        }
    };
    let mut labels = output.clone();
    for l in operands.iter().flatten() {
        if !labels.contains(l) {
            labels.push(*l);
        }
    }
    let mut dims = vec![1usize; labels.len()];
    let mut op_seen = vec![false; labels.len()];
    for (op, s) in operands.iter().zip(shapes) {
        for (l, &d) in op.iter().zip(s.iter()) {
            let i = labels.iter().position(|x| x == l).unwrap_or(0);
            // Only the axes of `...` broadcast (as numpy's einsum); a letter's sizes agree.
            let seen = op_seen[i];
            op_seen[i] = true;
            if *l < 100 && seen && dims[i] != d {
                return Err(format!("label {l} has sizes {} and {d}", dims[i]));
            }
            if d != 1 && dims[i] != 1 && dims[i] != d {
                return Err(format!("label {l} has sizes {} and {d}", dims[i]));
            }
            if d != 1 {
                dims[i] = d;
            }
        }
    }
    // Repeated labels within one operand must agree exactly (a diagonal).
    for (op, s) in operands.iter().zip(shapes) {
        for (p, l) in op.iter().enumerate() {
            for (q, m) in op.iter().enumerate().skip(p + 1) {
                if l == m && s[p] != s[q] {
                    return Err(format!(
                        "the diagonal of axes {p} and {q} needs equal sizes"
                    ));
                }
            }
        }
    }
    Ok(EinsumPlan {
        operands,
        output,
        labels,
        dims,
    })
}

pub(crate) fn infer(
    a: &EinsumAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let tys: Vec<&TensorType> = (0..inputs.len())
        .map(|i| input(inputs, i, "operand").map(|x| x.ty))
        .collect::<Result<_, _>>()?;
    let Some(first) = tys.first() else {
        return Err("Einsum needs at least one operand".into());
    };
    if !first.dtype.is_float() || tys.iter().any(|t| t.dtype != first.dtype) {
        return Err("the operands must share one floating-point element type".into());
    }
    let shapes: Vec<&[usize]> = tys.iter().map(|t| t.shape.as_slice()).collect();
    let p = plan(a, &shapes)?;
    if p.labels.len() > 16 {
        return Err(format!(
            "the equation has {} labels; kiln handles 16",
            p.labels.len()
        ));
    }
    // The brute-force loop visits every combination of the labels' indices.
    let work = p
        .dims
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d as u64));
    if work.is_none_or(|w| w > 1 << 40) {
        return Err(format!(
            "the label sizes {:?} give more than 2^40 index combinations; kiln's Einsum \
             kernel visits each one",
            p.dims
        ));
    }
    let shape: Vec<usize> = p
        .output
        .iter()
        .map(|l| p.dims[p.labels.iter().position(|x| x == l).unwrap_or(0)])
        .collect();
    Ok(vec![TensorType::new(first.dtype, shape)])
}

pub(crate) fn eval(a: &EinsumAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer(a, ii))?.remove(0);
    let ts: Vec<&Tensor> = inputs.iter().flatten().copied().collect();
    let shapes: Vec<&[usize]> = ts.iter().map(|t| t.shape.as_slice()).collect();
    let p = plan(a, &shapes)?;
    let data: Vec<Vec<f64>> = ts
        .iter()
        .map(|t| floats(t, "operand"))
        .collect::<Result<_, _>>()?;
    let strides: Vec<Vec<usize>> = (0..ts.len()).map(|k| p.strides(k, shapes[k])).collect();
    let n_out = p.output.len();
    let mut y = vec![0.0f64; ty.numel()];
    let total: usize = p.dims.iter().product();
    let mut idx = vec![0usize; p.dims.len()];
    for _ in 0..total {
        let o = (0..n_out).fold(0, |o, l| o * p.dims[l] + idx[l]);
        let prod: f64 = (0..ts.len())
            .map(|k| {
                data[k][idx
                    .iter()
                    .zip(&strides[k])
                    .map(|(i, s)| i * s)
                    .sum::<usize>()]
            })
            .product();
        y[o] += prod;
        for l in (0..idx.len()).rev() {
            idx[l] += 1;
            if idx[l] < p.dims[l] {
                break;
            }
            idx[l] = 0;
        }
    }
    Ok(vec![output(&ty, from_f64s(ty.dtype, y)?)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::TensorData;

    fn t(shape: &[usize], v: &[f64]) -> Tensor {
        Tensor::new(shape.to_vec(), TensorData::F64(v.to_vec())).unwrap()
    }

    fn run(eq: &str, xs: &[&Tensor]) -> Result<Tensor, String> {
        let a = EinsumAttrs {
            equation: eq.into(),
        };
        let args: Vec<Option<&Tensor>> = xs.iter().map(|x| Some(*x)).collect();
        Ok(eval(&a, &args)?.remove(0))
    }

    #[test]
    fn identities() {
        let a = t(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let b = t(&[3, 2], &[7.0, 8.0, 9.0, 10.0, 11.0, 12.0]);
        // The implicit output of "ij,jk" is "ik": the matrix product.
        let m = run("ij,jk", &[&a, &b]).unwrap();
        assert_eq!(m.shape, [2, 2]);
        assert_eq!(m.data, TensorData::F64(vec![58.0, 64.0, 139.0, 154.0]));
        // The trace is the sum of the diagonal; a transpose moves elements only.
        let sq = t(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(
            run("ii->", &[&sq]).unwrap().data,
            TensorData::F64(vec![5.0])
        );
        assert_eq!(
            run("ij->ji", &[&sq]).unwrap().data,
            TensorData::F64(vec![1.0, 3.0, 2.0, 4.0])
        );
        // `...` broadcasts a size-1 axis.
        let c = t(&[1, 2], &[10.0, 20.0]);
        let s = run(
            "...j,...j->...",
            &[&a.clone(), &t(&[1, 3], &[1.0, 1.0, 1.0])],
        )
        .unwrap();
        assert_eq!(s.data, TensorData::F64(vec![6.0, 15.0]));
        assert!(
            run("ij,jk", &[&a, &c]).is_err(),
            "3 columns against 1 row of 2"
        );
        assert!(run("ij,j1", &[&a, &b]).is_err(), "bad label");
    }
}
