//! ModelProto -> [`Graph`]: opset checks, the unsupported-op survey, constants, input shapes, a topological sort of our own, and shape inference
//! through [`kiln_ir::Op::infer`].

use crate::decode::{ModelInfo, decode_model, domain_name};
use crate::error::{FrontendError, NodeCtx, UnsupportedOp};
use crate::import;
use crate::onnx::{
    GraphProto, NodeProto, ValueInfoProto, tensor_shape_proto::dimension, type_proto,
};
use crate::options::{LoadOptions, MAX_OPSET};
use crate::tensor::{self, TensorCtx, dtype_from_onnx, dtype_or_error, onnx_dtype_name};
use kiln_ir::ops::InferInput;
use kiln_ir::{DType, Graph, Node, Op, Tensor, TensorData, TensorType, ValueId, ValueKind};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

fn load_inner(
    bytes: &[u8],
    base_dir: Option<&Path>,
    opts: &LoadOptions,
) -> Result<(Graph, ModelInfo), FrontendError> {
    let model = decode_model(bytes, opts.max_file_bytes)?;
    crate::limits::check(&model, opts)?;
    let mut info = ModelInfo::from_model(&model);
    let Some(g) = model.graph.as_ref() else {
        // decode_model refused models without a graph.
        return Err(FrontendError::Decode("the model holds no graph".into()));
    };
    let default_opset = match info.default_opset() {
        Some(v) if v > MAX_OPSET => {
            return Err(FrontendError::OpsetTooNew {
                version: v,
                max: MAX_OPSET,
            });
        }
        Some(v) if v < 1 => {
            return Err(FrontendError::Graph(format!(
                "the model imports ai.onnx opset {v}, which does not exist (opsets start at \
                 1); the model is malformed"
            )));
        }
        Some(v) => Some(v),
        // IR versions before 3 had no opset_import and meant opset 1.
        None if info.ir_version < 3 => Some(1),
        None => None,
    };
    let budget = std::cell::Cell::new(opts.max_file_bytes);
    let files = std::cell::RefCell::default();
    let tctx = TensorCtx {
        base_dir,
        max_elements: opts.max_tensor_elements,
        external_budget: &budget,
        external_files: Some(&files),
        names: opts.option_names,
    };
    let graph = Builder::new(g, &info, default_opset, tctx, opts)?.build()?;
    info.external_data = files.into_inner().into_iter().collect();
    Ok((graph, info))
}

/// [`load_inner`], with every error naming options as `opts.option_names` says.
pub(crate) fn load(
    bytes: &[u8],
    base_dir: Option<&Path>,
    opts: &LoadOptions,
) -> Result<(Graph, ModelInfo), FrontendError> {
    load_inner(bytes, base_dir, opts).map_err(|e| e.with_option_names(opts.option_names))
}

fn is_default_domain(d: &str) -> bool {
    d.is_empty() || d == "ai.onnx"
}

/// Positions up to and including the last non-empty name (trailing omitted ones dropped).
fn trimmed(names: &[String]) -> &[String] {
    let n = names
        .iter()
        .rposition(|s| !s.is_empty())
        .map_or(0, |i| i + 1);
    // n is a position found in `names` plus one, so at most its length.
    &names[..n]
}

struct Builder<'a> {
    g: &'a GraphProto,
    info: &'a ModelInfo,
    tctx: TensorCtx<'a>,
    opts: &'a LoadOptions,
    ctxs: Vec<NodeCtx>,
    graph: Graph,
    /// Value name -> id, for inputs, constants and node outputs added so far.
    names: HashMap<String, ValueId>,
    /// Element types the model declares (value_info and graph outputs), by value name.
    declared: HashMap<&'a str, i32>,
}

impl<'a> Builder<'a> {
    fn new(
        g: &'a GraphProto,
        info: &'a ModelInfo,
        default_opset: Option<i64>,
        tctx: TensorCtx<'a>,
        opts: &'a LoadOptions,
    ) -> Result<Self, FrontendError> {
        let mut ctxs = Vec::with_capacity(g.node.len());
        for (i, n) in g.node.iter().enumerate() {
            let name = if n.name().is_empty() {
                format!("{}_{i}", n.op_type())
            } else {
                n.name().to_string()
            };
            let opset = if is_default_domain(n.domain()) {
                default_opset.ok_or_else(|| {
                    FrontendError::Graph(
                        "the model does not say which ai.onnx opset it uses (opset_import has \
                         no entry for the default domain); the model is malformed, re-export it"
                            .into(),
                    )
                })?
            } else {
                info.opset_imports.get(n.domain()).copied().unwrap_or(0)
            };
            ctxs.push(NodeCtx {
                name,
                op: n.op_type().to_string(),
                opset,
            });
        }
        let mut declared = HashMap::new();
        for vi in g.value_info.iter().chain(&g.output) {
            if let Some(type_proto::Value::TensorType(t)) =
                vi.r#type.as_ref().and_then(|t| t.value.as_ref())
                && let Some(code) = t.elem_type
            {
                declared.insert(vi.name(), code);
            }
        }
        let name = if g.name().is_empty() {
            "graph"
        } else {
            g.name()
        };
        Ok(Builder {
            g,
            info,
            tctx,
            opts,
            ctxs,
            graph: Graph::new(name),
            names: HashMap::new(),
            declared,
        })
    }

    fn build(mut self) -> Result<Graph, FrontendError> {
        self.check_supported()?;
        self.add_initializers()?;
        self.add_inputs()?;
        let order = self.schedule()?;
        for i in order {
            self.add_node(i)?;
        }
        self.add_outputs()?;
        Ok(self.graph)
    }

    /// Lists every node kiln cannot import, before any shape work, so the user sees them
    /// all at once.
    fn check_supported(&self) -> Result<(), FrontendError> {
        // Element types known before any import (an op may refuse a type kiln lacks):
        // declared ones, and those of graph inputs and initializers.
        let mut elem_types = self.declared.clone();
        for vi in &self.g.input {
            if let Some(type_proto::Value::TensorType(t)) =
                vi.r#type.as_ref().and_then(|t| t.value.as_ref())
                && let Some(code) = t.elem_type
            {
                elem_types.insert(vi.name(), code);
            }
        }
        for tp in &self.g.initializer {
            elem_types.insert(tp.name(), tp.data_type());
        }
        let mut bad = Vec::new();
        for (n, ctx) in self.g.node.iter().zip(&self.ctxs) {
            let result = if is_default_domain(n.domain()) {
                let input_types: Vec<Option<i32>> = n
                    .input
                    .iter()
                    .map(|s| elem_types.get(s.as_str()).copied())
                    .collect();
                import::check_supported(n, ctx, trimmed(&n.output).len(), &input_types)
            } else {
                Err(None)
            };
            if let Err(reason) = result {
                bad.push(UnsupportedOp {
                    node: ctx.name.clone(),
                    op_type: n.op_type().to_string(),
                    domain: domain_name(n.domain()).to_string(),
                    opset: if is_default_domain(n.domain()) {
                        Some(ctx.opset)
                    } else {
                        self.info.opset_imports.get(n.domain()).copied()
                    },
                    reason,
                });
            }
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(FrontendError::Unsupported(bad))
        }
    }

    fn add_const(&mut self, name: &str, t: Tensor) -> ValueId {
        let id = self.graph.add_value(name, t.ty(), ValueKind::Const(t));
        self.names.insert(name.to_string(), id);
        id
    }

    fn add_initializers(&mut self) -> Result<(), FrontendError> {
        if let Some(s) = self.g.sparse_initializer.first() {
            let name = s.values.as_ref().map_or("", |v| v.name());
            return Err(FrontendError::Graph(format!(
                "the model has sparse initializers (e.g. {name:?}), which kiln does not read; \
                 store them as dense tensors"
            )));
        }
        for tp in &self.g.initializer {
            let name = tp.name();
            let what = format!("initializer {name:?}");
            if name.is_empty() {
                return Err(FrontendError::Graph(
                    "the model has an initializer without a name; the model is malformed".into(),
                ));
            }
            if self.names.contains_key(name) {
                return Err(FrontendError::Graph(format!(
                    "two initializers are named {name:?}; the model is malformed"
                )));
            }
            let t = tensor::tensor_from_proto(tp, &what, self.tctx)?;
            self.add_const(name, t);
        }
        Ok(())
    }

    /// Adds the run-time inputs with static types. Problems with shapes are collected over
    /// all inputs so the user can fix them in one go.
    fn add_inputs(&mut self) -> Result<(), FrontendError> {
        let names = self.opts.option_names;
        let mut problems = Vec::new();
        let mut runtime = BTreeSet::new();
        let mut seen = HashSet::new();
        for vi in &self.g.input {
            let name = vi.name();
            if name.is_empty() {
                return Err(FrontendError::Graph(
                    "the model has a graph input without a name; the model is malformed".into(),
                ));
            }
            if !seen.insert(name) {
                return Err(FrontendError::Graph(format!(
                    "two graph inputs are named {name:?}; the model is malformed"
                )));
            }
            // An input that is also an initializer has a default value: kiln compiles it in.
            if self.names.contains_key(name) {
                continue;
            }
            if let Some(t) = self.opts.bound_inputs.get(name) {
                match self.input_type(vi) {
                    Ok(ty) if ty.dtype != t.dtype() => problems.push(format!(
                        "{} {name}: the value is {} but the input is {}",
                        names.bind_input_option(),
                        t.dtype(),
                        ty.dtype
                    )),
                    Ok(ty) if ty.shape != t.shape => problems.push(format!(
                        "{} {name}: the value has shape {:?} but the input has {:?}",
                        names.bind_input_option(),
                        t.shape,
                        ty.shape
                    )),
                    // An input with unknown dimensions takes the value's shape.
                    Ok(_) | Err(FrontendError::InputShape(_)) => {
                        self.add_const(name, t.clone());
                    }
                    Err(e) => return Err(e),
                }
                runtime.insert(name);
                continue;
            }
            // CastLike reads only its `like` operand's type, and the ONNX tests pass an
            // empty tensor there: such an input becomes an empty constant, not an argument.
            if let Some(t) = self.type_only_input(vi) {
                self.add_const(name, t);
                runtime.insert(name);
                continue;
            }
            runtime.insert(name);
            match self.input_type(vi) {
                Ok(ty) => {
                    let id = self.graph.add_value(name, ty, ValueKind::Input);
                    self.names.insert(name.to_string(), id);
                    self.graph.inputs.push(id);
                }
                Err(FrontendError::InputShape(msg)) => problems.push(msg),
                Err(e) => return Err(e),
            }
        }
        for name in self.opts.bound_inputs.keys() {
            if !runtime.contains(name.as_str()) {
                problems.push(format!(
                    "{} names {name:?}, which is not a run-time input of the model",
                    names.bind_input_option()
                ));
            }
        }
        for name in self.opts.input_shapes.keys() {
            if !runtime.contains(name.as_str()) {
                let list: Vec<String> = runtime.iter().map(|n| format!("{n:?}")).collect();
                let why = if self.names.contains_key(name) {
                    " (it is an initializer, i.e. a constant)"
                } else {
                    ""
                };
                problems.push(format!(
                    "{} names {name:?}, which is not a run-time input of the model{why}; the \
                     inputs are: {}",
                    names.input_shape_option(),
                    if list.is_empty() {
                        "(none)".to_string()
                    } else {
                        list.join(", ")
                    }
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(FrontendError::InputShape(problems.join("\n")))
        }
    }

    /// An empty tensor of `vi`'s type when `vi` declares a zero dimension and every reader
    /// only looks at its element type (CastLike's `like`), or nothing reads it.
    fn type_only_input(&self, vi: &ValueInfoProto) -> Option<Tensor> {
        let Some(type_proto::Value::TensorType(t)) = vi.r#type.as_ref()?.value.as_ref() else {
            return None;
        };
        let dims: Vec<i64> = t
            .shape
            .as_ref()?
            .dim
            .iter()
            .map(|d| match d.value {
                Some(dimension::Value::DimValue(v)) => v,
                _ => -1,
            })
            .collect();
        if !dims.contains(&0) || dims.iter().any(|&d| d < 0) {
            return None;
        }
        let name = vi.name();
        for n in &self.g.node {
            for (slot, i) in n.input.iter().enumerate() {
                if i == name && (n.op_type() != "CastLike" || slot != 1) {
                    return None;
                }
            }
        }
        let dtype = dtype_from_onnx(t.elem_type())?;
        let shape = dims.iter().map(|&d| d as usize).collect();
        Tensor::new(shape, TensorData::zeros(dtype, 0)).ok()
    }

    /// The static type of a graph input, from the model and `opts.input_shapes`.
    fn input_type(&self, vi: &ValueInfoProto) -> Result<TensorType, FrontendError> {
        let names = self.opts.option_names;
        let name = vi.name();
        let t = match vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(type_proto::Value::TensorType(t)) => t,
            Some(other) => {
                let kind = match other {
                    type_proto::Value::SequenceType(_) => "a sequence",
                    type_proto::Value::MapType(_) => "a map",
                    type_proto::Value::OptionalType(_) => "an optional",
                    type_proto::Value::SparseTensorType(_) => "a sparse tensor",
                    _ => "an opaque value",
                };
                return Err(FrontendError::Graph(format!(
                    "graph input {name:?} is {kind}; kiln compiles models whose inputs are dense \
                     tensors"
                )));
            }
            None => {
                return Err(FrontendError::Graph(format!(
                    "graph input {name:?} has no type; the model is malformed"
                )));
            }
        };
        let dtype = dtype_or_error(t.elem_type(), &format!("graph input {name:?}"))?;
        enum Dim {
            Fixed(usize),
            Param(String),
            /// 0: an empty tensor, or some exporters' way of writing "unknown".
            Zero,
            Unknown,
        }
        let declared: Option<Vec<Dim>> = t.shape.as_ref().map(|s| {
            s.dim
                .iter()
                .map(|d| match &d.value {
                    Some(dimension::Value::DimValue(0)) => Dim::Zero,
                    Some(dimension::Value::DimValue(v)) => {
                        // -1 means unknown; values below it are refused below.
                        usize::try_from(*v).map_or(Dim::Unknown, Dim::Fixed)
                    }
                    Some(dimension::Value::DimParam(p)) if !p.is_empty() => Dim::Param(p.clone()),
                    _ => Dim::Unknown,
                })
                .collect()
        });
        if let Some(s) = &t.shape {
            for (i, d) in s.dim.iter().enumerate() {
                // -1 is some exporters' way of writing "unknown" and is treated as such;
                // anything below it is malformed.
                if let Some(dimension::Value::DimValue(v)) = d.value
                    && v < -1
                {
                    return Err(FrontendError::Graph(format!(
                        "graph input {name:?} declares dimension {i} as {v}; dimensions cannot \
                         be negative, so the model is malformed"
                    )));
                }
            }
        }
        let shape = if let Some(given) = self.opts.input_shapes.get(name) {
            if given.contains(&0) {
                return Err(FrontendError::InputShape(format!(
                    "{} has a zero dimension; every dimension must be at least 1",
                    names.input_shape(name, Some(given))
                )));
            }
            if let Some(decl) = &declared {
                if decl.len() != given.len() {
                    return Err(FrontendError::InputShape(format!(
                        "input {name:?} has rank {} in the model, but {} has rank {}; give all \
                         {} dimensions",
                        decl.len(),
                        names.input_shape(name, Some(given)),
                        given.len(),
                        decl.len()
                    )));
                }
                for (i, (d, &g)) in decl.iter().zip(given).enumerate() {
                    if let Dim::Fixed(f) = d
                        && *f != g
                    {
                        return Err(FrontendError::InputShape(format!(
                            "input {name:?} has dimension {i} fixed to {f} in the model, but \
                             {} sets it to {g}; only symbolic or unknown dimensions can be \
                             chosen",
                            names.input_shape(name, Some(given))
                        )));
                    }
                }
            }
            given.clone()
        } else {
            let Some(decl) = declared else {
                return Err(FrontendError::InputShape(format!(
                    "input {name:?} has no declared shape (not even a rank); kiln compiles for \
                     static shapes: pass {} with the full shape, e.g. {}",
                    names.input_shape(name, None),
                    names.input_shape(name, Some(&[1, 3, 32, 32]))
                )));
            };
            let unresolved: Vec<String> = decl
                .iter()
                .enumerate()
                .filter_map(|(i, d)| match d {
                    Dim::Fixed(_) => None,
                    Dim::Param(p) => Some(format!("dimension {i} ({p:?})")),
                    Dim::Zero if !dtype.is_float() && dtype != DType::Bool => Some(format!(
                        "dimension {i} (declared 0: an empty tensor, which kiln cannot \
                         compile, or an exporter's way of writing unknown; if the input is an \
                         operand that decides shapes, such as a reduction's axes, its value \
                         is only known at run time: fix it with {})",
                        names.bind_input(Some(name))
                    )),
                    Dim::Zero => Some(format!(
                        "dimension {i} (declared 0: an empty tensor, which kiln cannot \
                         compile, or an exporter's way of writing unknown)"
                    )),
                    Dim::Unknown => Some(format!("dimension {i} (unknown)")),
                })
                .collect();
            if !unresolved.is_empty() {
                let example: Vec<usize> = decl
                    .iter()
                    .map(|d| match d {
                        Dim::Fixed(f) => *f,
                        _ => 1,
                    })
                    .collect();
                return Err(FrontendError::InputShape(format!(
                    "input {name:?} has dynamic {}; kiln compiles for static shapes: pass {} \
                     (1 in place of each dynamic dimension; use the sizes you deploy with)",
                    unresolved.join(", "),
                    names.input_shape(name, Some(&example))
                )));
            }
            decl.iter()
                .map(|d| match d {
                    Dim::Fixed(f) => *f,
                    // Unresolved dimensions returned above.
                    _ => 1,
                })
                .collect()
        };
        tensor::check_numel(
            &shape,
            &format!("graph input {name:?}"),
            self.tctx.max_elements,
        )?;
        Ok(TensorType::new(dtype, shape))
    }

    /// A topological order of the nodes by value names, preferring file order among ready
    /// nodes. Also checks that every value has exactly one source.
    fn schedule(&self) -> Result<Vec<usize>, FrontendError> {
        let nodes = &self.g.node;
        // Indices below are node positions (< nodes.len()), and `ctxs`, `preds`, `succs`,
        // `indegree` and `done` all have one entry per node, so indexing cannot fail.
        // Each predecessor is counted once (a set), so `indegree` never goes below zero.
        let mut producer: HashMap<&str, usize> = HashMap::new();
        for (i, n) in nodes.iter().enumerate() {
            for out in n.output.iter().filter(|s| !s.is_empty()) {
                if self.names.contains_key(out.as_str()) {
                    return Err(FrontendError::Graph(format!(
                        "node {:?} ({}) writes {out:?}, which is already a graph input or \
                         initializer; the model is malformed",
                        self.ctxs[i].name, self.ctxs[i].op
                    )));
                }
                if let Some(&p) = producer.get(out.as_str()) {
                    return Err(FrontendError::Graph(format!(
                        "value {out:?} is produced by both node {:?} ({}) and node {:?} ({}); \
                         the model is malformed",
                        self.ctxs[p].name, self.ctxs[p].op, self.ctxs[i].name, self.ctxs[i].op
                    )));
                }
                producer.insert(out, i);
            }
        }
        let mut preds: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); nodes.len()];
        let mut succs: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        for (i, n) in nodes.iter().enumerate() {
            for inp in n.input.iter().filter(|s| !s.is_empty()) {
                if let Some(&p) = producer.get(inp.as_str()) {
                    if preds[i].insert(p) {
                        succs[p].push(i);
                    }
                } else if !self.names.contains_key(inp.as_str()) {
                    let c = &self.ctxs[i];
                    return Err(FrontendError::MissingInput {
                        node: c.name.clone(),
                        op: c.op.clone(),
                        opset: c.opset,
                        value: inp.clone(),
                    });
                }
            }
        }
        let mut indegree: Vec<usize> = preds.iter().map(BTreeSet::len).collect();
        let mut ready: BTreeSet<usize> = (0..nodes.len()).filter(|&i| indegree[i] == 0).collect();
        let mut order = Vec::with_capacity(nodes.len());
        let mut done = vec![false; nodes.len()];
        while let Some(i) = ready.pop_first() {
            order.push(i);
            done[i] = true;
            for &s in &succs[i] {
                indegree[s] -= 1;
                if indegree[s] == 0 {
                    ready.insert(s);
                }
            }
        }
        if order.len() == nodes.len() {
            return Ok(order);
        }
        // Every node left has a predecessor that is also left, so walking predecessors must
        // come back to a node already visited: that loop is a cycle.
        let mut path: Vec<usize> = Vec::new();
        let mut at: HashMap<usize, usize> = HashMap::new();
        let mut cur = (0..nodes.len()).find(|&i| !done[i]);
        while let Some(c) = cur {
            if let Some(&pos) = at.get(&c) {
                path.drain(..pos);
                break;
            }
            at.insert(c, path.len());
            path.push(c);
            cur = preds[c].iter().copied().find(|&p| !done[p]);
        }
        // Walking predecessors lists the cycle against the data flow; show it along it.
        path.reverse();
        if let Some(&first) = path.first() {
            path.push(first);
        }
        Err(FrontendError::Cycle {
            nodes: path
                .iter()
                .map(|&i| format!("{:?} ({})", self.ctxs[i].name, self.ctxs[i].op))
                .collect(),
        })
    }

    /// A value name not used by the model, derived from `base`.
    fn fresh_name(&self, base: String) -> String {
        let taken = |n: &str| {
            self.names.contains_key(n)
                || self
                    .g
                    .node
                    .iter()
                    .any(|node| node.output.iter().any(|o| o == n))
        };
        if !taken(&base) {
            return base;
        }
        (2..)
            .map(|k| format!("{base}_{k}"))
            .find(|n| !taken(n))
            .unwrap_or(base)
    }

    fn add_node(&mut self, i: usize) -> Result<(), FrontendError> {
        // `i` comes from schedule(), which only returns node positions.
        let node: &'a NodeProto = &self.g.node[i];
        let ctx = self.ctxs[i].clone();
        if node.op_type() == "Constant" {
            return self.add_constant_node(node, &ctx);
        }
        let in_names = trimmed(&node.input);
        let consts: Vec<Option<&Tensor>> = in_names
            .iter()
            .map(|n| {
                let id = self.names.get(n.as_str())?;
                self.graph.value(*id).const_tensor()
            })
            .collect();
        let mut imported = import::import(node, &ctx, in_names.len(), &consts)?;
        // CastLike casts to its second operand's element type, which only the graph knows.
        if node.op_type() == "CastLike"
            && let Op::Cast(c) = &mut imported.op
            && let Some(id) = in_names.get(1).and_then(|n| self.names.get(n.as_str()))
        {
            c.to = self.graph.value(*id).ty.dtype;
        }
        let mut inputs: Vec<Option<ValueId>> = in_names
            .iter()
            .map(|n| {
                if n.is_empty() {
                    None
                } else {
                    // schedule() checked that every named input has a source, and sources
                    // come before their readers in the order it returned.
                    self.names.get(n.as_str()).copied()
                }
            })
            .collect();
        if let Some((slot, t)) = imported.const_input {
            let name = self.fresh_name(format!("{}.{}", ctx.name, "shape"));
            let id = self.add_const(&name, t);
            if inputs.len() <= slot {
                inputs.resize(slot + 1, None);
            }
            inputs[slot] = Some(id);
        }
        if let Some(k) = imported.keep_inputs {
            inputs.truncate(k);
        }
        let types = {
            let infer_inputs: Vec<Option<InferInput>> = inputs
                .iter()
                .map(|v| {
                    v.map(|id| {
                        let val = self.graph.value(id);
                        InferInput {
                            ty: &val.ty,
                            value: val.const_tensor(),
                        }
                    })
                })
                .collect();
            imported.op.infer(&infer_inputs).map_err(|m| ctx.error(m))?
        };
        let out_names = trimmed(&node.output);
        if out_names.len() > types.len() {
            return Err(ctx.error(format!(
                "has {} outputs but {} produces {}",
                out_names.len(),
                ctx.op,
                types.len()
            )));
        }
        let mut folded = self
            .fold(&ctx, &imported.op, &inputs, &types)?
            .map(Vec::into_iter);
        let mut outputs = Vec::with_capacity(out_names.len());
        for (k, (name, ty)) in out_names.iter().zip(types).enumerate() {
            let shown = if name.is_empty() { "(unnamed)" } else { name };
            tensor::check_numel(
                &ty.shape,
                &format!("output {k} {shown:?} of node {:?} ({})", ctx.name, ctx.op),
                self.tctx.max_elements,
            )?;
            if let Some(&code) = self.declared.get(name.as_str())
                && let Some(d) = dtype_from_onnx(code)
                && d != ty.dtype
            {
                return Err(ctx.error(format!(
                    "output {name:?} is {} by kiln's type inference, but the model declares \
                     element type {}; the model is inconsistent",
                    ty.dtype,
                    onnx_dtype_name(code)
                )));
            }
            // An omitted output before a used one still needs a value to sit in its slot.
            let name = if name.is_empty() {
                self.fresh_name(format!("{}.output{k}", ctx.name))
            } else {
                name.clone()
            };
            if let Some(t) = folded.as_mut().and_then(Iterator::next) {
                self.add_const(&name, t);
                continue;
            }
            let id = self.graph.add_value(&name, ty, ValueKind::Activation);
            self.names.insert(name, id);
            outputs.push(id);
        }
        if folded.is_some() {
            return Ok(());
        }
        self.graph.add_node(Node {
            name: ctx.name,
            op: imported.op,
            inputs,
            outputs,
            onnx_op: ctx.op,
            opset: ctx.opset,
            epilogue: Vec::new(),
            merged: Vec::new(),
        });
        Ok(())
    }

    /// Compile-time evaluation of a node whose result is known at import: Shape, Size and
    /// EyeLike of any value (shapes are static), and any node whose inputs are all
    /// constants, as long as the results are small (big weight computations stay nodes).
    /// `Some(values)`: the outputs, which become constants instead of a node.
    fn fold(
        &self,
        ctx: &NodeCtx,
        op: &Op,
        inputs: &[Option<ValueId>],
        types: &[TensorType],
    ) -> Result<Option<Vec<Tensor>>, FrontendError> {
        /// Results up to this many elements (all outputs together) are folded.
        const MAX_FOLDED: usize = 64 * 1024;
        // Kept as nodes: the quantize pass turns DequantizeLinear of int8 weights into
        // integer kernels reading those weights; the passes fold what it leaves.
        if matches!(op, Op::DequantizeLinear(_)) {
            return Ok(None);
        }
        if types.iter().map(TensorType::numel).sum::<usize>() > MAX_FOLDED {
            return Ok(None);
        }
        if let Some(Some(x)) = inputs.first()
            && let Some(t) = kiln_ir::ops::generate::from_type(op, &self.graph.value(*x).ty)
        {
            return t.map(|t| Some(vec![t])).map_err(|m| ctx.error(m));
        }
        let consts: Option<Vec<Option<&Tensor>>> = inputs
            .iter()
            .map(|v| match v {
                None => Some(None),
                Some(id) => self.graph.value(*id).const_tensor().map(Some),
            })
            .collect();
        match consts {
            Some(c) if c.iter().any(Option::is_some) => {
                op.eval(&c).map(Some).map_err(|m| ctx.error(m))
            }
            _ => Ok(None),
        }
    }

    /// A `Constant` node becomes a constant value (no IR node).
    fn add_constant_node(&mut self, node: &NodeProto, ctx: &NodeCtx) -> Result<(), FrontendError> {
        let outs = trimmed(&node.output);
        let [out] = outs else {
            return Err(ctx.error(format!(
                "has {} outputs; Constant has exactly one",
                outs.len()
            )));
        };
        if !trimmed(&node.input).is_empty() {
            return Err(ctx.error("has inputs; Constant takes none"));
        }
        let a = crate::attrs::Attrs::new(ctx, &node.attribute);
        const VALUE_ATTRS: [&str; 8] = [
            "value",
            "value_float",
            "value_floats",
            "value_int",
            "value_ints",
            "value_string",
            "value_strings",
            "sparse_value",
        ];
        let present: Vec<&str> = VALUE_ATTRS.into_iter().filter(|n| a.has(n)).collect();
        let which = match present.as_slice() {
            [one] => *one,
            [] => {
                return Err(ctx.error(
                    "has no value attribute (value, value_float(s) or value_int(s)); the model \
                     is malformed",
                ));
            }
            _ => {
                return Err(ctx.error(format!(
                    "has several value attributes ({}); the model is malformed",
                    present.join(", ")
                )));
            }
        };
        let what = format!("the value of Constant node {:?}", ctx.name);
        let scalar_or = |t: Result<Tensor, String>| t.map_err(|m| ctx.attr(which, m));
        let t = match which {
            "value" => match a.tensor("value")? {
                Some(tp) => tensor::tensor_from_proto(tp, &what, self.tctx)?,
                None => return Err(ctx.attr("value", "holds no tensor")),
            },
            "value_float" => scalar_or(Tensor::new(
                vec![],
                TensorData::F32(vec![a.float_or("value_float", 0.0)?]),
            ))?,
            "value_int" => scalar_or(Tensor::new(
                vec![],
                TensorData::I64(vec![a.int_or("value_int", 0)?]),
            ))?,
            "value_floats" => {
                let v = a.floats("value_floats")?.unwrap_or_default();
                scalar_or(Tensor::new(vec![v.len()], TensorData::F32(v)))?
            }
            "value_ints" => {
                let v = a.ints("value_ints")?.unwrap_or_default();
                scalar_or(Tensor::new(vec![v.len()], TensorData::I64(v)))?
            }
            "sparse_value" => {
                return Err(ctx.attr(
                    "sparse_value",
                    "holds a sparse tensor, which kiln does not read; store the constant as a \
                     dense tensor",
                ));
            }
            _ => {
                return Err(FrontendError::UnsupportedDType {
                    what,
                    dtype: "STRING".into(),
                });
            }
        };
        tensor::check_numel(&t.shape, &what, self.tctx.max_elements)?;
        if let Some(&code) = self.declared.get(out.as_str())
            && let Some(d) = dtype_from_onnx(code)
            && d != t.dtype()
        {
            return Err(ctx.error(format!(
                "its value is {} but the model declares {out:?} as {}; the model is inconsistent",
                t.dtype(),
                onnx_dtype_name(code)
            )));
        }
        self.add_const(out, t);
        Ok(())
    }

    fn add_outputs(&mut self) -> Result<(), FrontendError> {
        for vi in &self.g.output {
            let name = vi.name();
            let id = self.names.get(name).copied().ok_or_else(|| {
                FrontendError::Graph(format!(
                    "graph output {name:?} is not produced by any node, input or initializer; \
                     the model is incomplete or corrupt"
                ))
            })?;
            self.graph.outputs.push(id);
        }
        if self.graph.outputs.is_empty() {
            return Err(FrontendError::Graph(
                "the model has no graph outputs, so there is nothing to compute".into(),
            ));
        }
        Ok(())
    }
}
