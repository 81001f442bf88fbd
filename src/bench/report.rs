//! The Markdown report of a benchmark run: machine, peaks, method, the latency table and
//! the hottest steps.

use super::{PeakKernel, Report, Variant, harness};
use std::time::Duration;

/// A latency in milliseconds with about four significant digits.
pub fn fmt_ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    match ms {
        m if m >= 100.0 => format!("{m:.1}"),
        m if m >= 10.0 => format!("{m:.2}"),
        m if m >= 1.0 => format!("{m:.3}"),
        m => format!("{m:.4}"),
    }
}

/// `a / b` to two decimals, or `n/a`.
fn ratio(a: Option<Duration>, b: Option<Duration>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if !b.is_zero() => format!("{:.2}", a.as_secs_f64() / b.as_secs_f64()),
        _ => "n/a".into(),
    }
}

/// The longest table cell, in characters: exporters' node names can run to hundreds.
const MAX_CELL: usize = 100;

/// A table cell: `|` and line breaks would break the table.
fn cell(s: &str) -> String {
    cell_max(s, MAX_CELL)
}

/// A table cell of at most `max` characters (and an ellipsis).
fn cell_max(s: &str, max: usize) -> String {
    let one_line = s.lines().next().unwrap_or("").replace('|', "\\|");
    if one_line.chars().count() > max {
        format!("{}…", one_line.chars().take(max).collect::<String>())
    } else {
        one_line
    }
}

/// The `-O2` builds, the ones held against the peers and a peak.
const O2_BUILDS: [Variant; 3] = [Variant::O2, Variant::O2Fma, Variant::O2Intrinsics];

/// What a peak column or line calls the arithmetic of `k`.
fn peak_name(k: PeakKernel) -> &'static str {
    match k {
        PeakKernel::MulAdd => "mul+add",
        PeakKernel::Fused => "FMA",
    }
}

/// `labels` as prose: `a`, `a and b`, `a, b and c`.
fn and_list(labels: &[String]) -> String {
    match labels {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

impl Report {
    /// The report as Markdown: machine, builds, peaks, method, the latency table, the hottest
    /// steps of each `-O2` build.
    pub fn markdown(&self, command: &str) -> String {
        let mut s = String::new();
        let m = &self.machine;
        let o = &self.options;
        s.push_str("# Benchmarks\n\n");
        s.push_str(&format!("Written by `{command}`.\n\n"));
        s.push_str(&format!(
            "- Machine: {} ({}), {} core{}; measured on one.\n",
            m.cpu,
            m.target_cpu,
            m.cores,
            if m.cores == 1 { "" } else { "s" }
        ));
        if let (Some(a), Some(b)) = m.load {
            s.push_str(&format!(
                "- Load average (1 min) at the start and the end of the run: {a:.2}, {b:.2} \
                 (the benchmark itself adds about 1; more than that means other processes \
                 shared the CPU).\n"
            ));
        }
        let flags = harness::native_rustflags();
        let contracted = harness::native_contracts();
        s.push_str(&format!(
            "- kiln's code: built by {} with cargo's release profile and `{}` (what `cargo \
             build --release` gives a user on this machine with those flags; see the README for \
             doing the same in a firmware crate){}.\n",
            m.rustc,
            flags.join(" "),
            [
                (
                    "target-feature=-prefer-256-bit",
                    "; `-prefer-256-bit` lifts the 256-bit limit LLVM's tuning puts on its \
                     vectorisers for Intel's AVX-512 cores"
                ),
                (
                    "llvm-args=-fp-contract=fast",
                    "; `-fp-contract=fast` lets LLVM fuse each multiply and add the code \
                     writes into one fused multiply-add (as `-ffp-contract=fast` does in C), \
                     which stable `no_std` Rust cannot ask for in its source"
                ),
            ]
            .iter()
            .filter(|(f, _)| flags.contains(f))
            .map(|(_, why)| *why)
            .collect::<String>()
        ));
        let peers: Vec<String> = o
            .peers
            .iter()
            .map(|p| match m.peers.get(p.name()) {
                Some(v) => format!("{} {v}", p.name()),
                None => format!("{} (did not start)", p.name()),
            })
            .collect();
        if !peers.is_empty() {
            s.push_str(&format!(
                "- Peers: {} (PyPI, through their Python bindings), one thread; onnxruntime \
                 with all graph optimisations, sequential; the time includes the bindings' \
                 per-call overhead (microseconds).\n",
                peers.join(", ")
            ));
        }
        let builds: Vec<String> = o
            .variants
            .iter()
            .map(|v| match v {
                Variant::O0 => "`-O0` (the reference kernels)".to_string(),
                Variant::O2 => format!(
                    "`-O2` (the default: `no_std` code, a multiply and an add in every kernel, \
                     as stable `no_std` Rust has no `mul_add`{})",
                    if contracted {
                        "; this build fuses them"
                    } else {
                        ""
                    }
                ),
                Variant::O2Fma => "`-O2 --fma` (`kiln compile --fma`: the same program with \
                                   `f32::mul_add` in the GEMM micro-kernels, so the code needs \
                                   `std`; for hosts with FMA units)"
                    .to_string(),
                Variant::O2Intrinsics => "`-O2 --intrinsics` (`kiln compile --intrinsics`: the \
                                          same program with x86 intrinsics (AVX-512 VNNI, or \
                                          AVX2) in the int8 quad kernels, so the code has `unsafe` in one module)"
                    .to_string(),
            })
            .collect();
        s.push_str(&format!("- kiln's builds: {}.\n", and_list(&builds)));
        let mut peaks = vec![(PeakKernel::MulAdd, &self.peak_gflops)];
        if let Some(fma) = &self.fma_peak_gflops {
            peaks.push((PeakKernel::Fused, fma));
        }
        for (k, peak) in peaks {
            let (what, how) = match k {
                PeakKernel::MulAdd => (
                    "a multiply then an add (the arithmetic of `-O0` and `-O2`)",
                    if contracted {
                        "16 independent chains of `a = a * x + y` on 16 lanes (on x86 with \
                         AVX2 but not AVX-512: 12 chains of 8-lane `core::arch` vectors), \
                         written as a multiply and an add and fused by the build's \
                         `-fp-contract=fast`, as the `-O2` code is"
                    } else {
                        "16 independent chains of `a = a * x + y` on 16 lanes (on x86 with \
                         AVX2 but not AVX-512: 12 chains of 8-lane vectors), not fused"
                    },
                ),
                PeakKernel::Fused => (
                    "fused multiply-add (the arithmetic of `-O2 --fma`)",
                    "the same chains with `f32::mul_add`",
                ),
            };
            match peak {
                Ok(g) => s.push_str(&format!(
                    "- Single-core peak ({}), {what}: {g:.1} GFLOP/s f32, the best of its \
                     measurements in this run ({how}; a multiply-add counts two flops).\n",
                    peak_name(k)
                )),
                Err(e) => s.push_str(&format!(
                    "- Single-core peak ({}), {what}: not measured ({}).\n",
                    peak_name(k),
                    cell(e)
                )),
            }
        }
        s.push_str(&format!(
            "- Method: each round times kiln's code as {} and then each peer, every one for \
             about {:.2} s of runs on the same inputs in one process, and takes the median run; \
             the table gives the median over {} round{}. GFLOP/s counts a MAC of the `-O2` \
             program as two flops{}.\n\n",
            and_list(
                &o.variants
                    .iter()
                    .map(|v| v.label().to_string())
                    .collect::<Vec<_>>()
            ),
            o.round_secs,
            o.rounds,
            if o.rounds == 1 { "" } else { "s" },
            match o.variants.contains(&Variant::O2Fma) {
                true =>
                    " (`-O2 --fma` runs the same program), and each `-O2` build's share is \
                         of the peak of its own arithmetic",
                false => "",
            }
        ));
        s.push_str(
            "Absolute times are for this machine only, and move with whatever else runs on it; \
             the ratios, measured in alternation in one run, are the point.\n\n",
        );
        s.push_str("## Latency\n\n");
        s.push_str(&self.latency_table());
        let notes: Vec<String> = self
            .models
            .iter()
            .filter(|r| !r.notes.is_empty())
            .map(|r| format!("- {}: {}.", r.name, r.notes.join("; ")))
            .collect();
        if !notes.is_empty() {
            s.push_str("\nInputs: the models' `test_data_set_0`, except as noted:\n\n");
            s.push_str(&notes.join("\n"));
            s.push('\n');
        }
        s.push_str("\n## Fastest runs\n\n");
        s.push_str(
            "The same columns from each contender's fastest run in any round rather than the \
             median: on a shared machine interference only ever adds time, so these compare \
             the code with the least of it, while the table above says what a run usually \
             takes.\n\n",
        );
        s.push_str(&self.fastest_table());
        let profiled: Vec<String> = self
            .options
            .profiled()
            .iter()
            .map(|v| format!("`{}`", v.label()))
            .collect();
        s.push_str("\n## Hottest steps\n\n");
        s.push_str(&format!(
            "The five steps of the {} code that take the most time, from a build with a \
             clock read after each step (`run_profiled`; step numbers as in `kiln inspect \
             --kernels`): each step's median time, its share of the sum over all steps, and \
             its GFLOP/s; then its fastest time in any round, the GFLOP/s of that, and their \
             share of the peak of the build's arithmetic (both the best of their \
             measurements). A step's flops are its direct convolution's, so a Winograd step \
             (`conv_winograd`, F(2x2, 3x3): 2.25x fewer multiplies) can pass the peak.\n",
            and_list(&profiled)
        ));
        for r in &self.models {
            for (v, steps) in &r.steps {
                s.push_str(&format!("\n### {} ({})\n\n", r.name, v.label()));
                match steps {
                    Err(e) => s.push_str(&format!("Not profiled: {}.\n", cell(e))),
                    Ok(steps) => s.push_str(&steps_table(steps, self.peak_for(*v).ok())),
                }
            }
        }
        s
    }

    /// The latency table: one row per model.
    pub fn latency_table(&self) -> String {
        self.table_of(false)
    }

    /// The latency table's twin with each contender's fastest run in any round.
    pub fn fastest_table(&self) -> String {
        self.table_of(true)
    }

    /// The latency table from the medians, or (`best`) from the fastest runs.
    fn table_of(&self, best: bool) -> String {
        let o = &self.options;
        let has = |v| o.variants.contains(&v);
        let o2s: Vec<Variant> = O2_BUILDS.into_iter().filter(|&v| has(v)).collect();
        let mut head = vec!["model".to_string(), "MMAC".into()];
        for &v in &o.variants {
            head.push(format!("kiln {} (ms)", v.label()));
        }
        for &p in &o.peers {
            head.push(format!("{} (ms)", p.name()));
        }
        if has(Variant::O0) && has(Variant::O2) {
            head.push("-O0 / -O2".into());
        }
        if has(Variant::O2) && has(Variant::O2Fma) {
            head.push("-O2 --fma / -O2".into());
        }
        if has(Variant::O2) && has(Variant::O2Intrinsics) {
            head.push("-O2 --intrinsics / -O2".into());
        }
        for &v in &o2s {
            for &p in &o.peers {
                head.push(format!("{} / {}", v.label(), p.name()));
            }
        }
        for &v in &o2s {
            head.push(format!("GFLOP/s {}", v.label()));
            head.push(format!("% of {} peak", peak_name(v.peak_kernel())));
        }
        let align: Vec<&str> = (0..head.len())
            .map(|k| if k == 0 { "---" } else { "---:" })
            .collect();
        let mut s = format!("| {} |\n| {} |\n", head.join(" | "), align.join(" | "));
        for r in &self.models {
            let mut row = vec![r.name.clone(), format!("{:.2}", r.macs as f64 / 1e6)];
            for (v, t) in &r.kiln {
                row.push(match (t, best) {
                    (Ok(t), false) => fmt_ms(*t),
                    (Ok(_), true) => r.kiln_best_time(*v).map_or("n/a".into(), fmt_ms),
                    (Err(e), _) => format!("failed: {}", cell(e)),
                });
            }
            for (p, t) in &r.peers {
                row.push(match (t, best) {
                    (Ok(t), false) => fmt_ms(*t),
                    (Ok(_), true) => r.peer_best_time(*p).map_or("n/a".into(), fmt_ms),
                    (Err(e), _) => format!("not run: {}", cell(e)),
                });
            }
            let time = |v| match best {
                false => r.kiln_time(v),
                true => r.kiln_best_time(v),
            };
            let peer_time = |p| match best {
                false => r.peer_time(p),
                true => r.peer_best_time(p),
            };
            if has(Variant::O0) && has(Variant::O2) {
                row.push(ratio(time(Variant::O0), time(Variant::O2)));
            }
            if has(Variant::O2) && has(Variant::O2Fma) {
                row.push(ratio(time(Variant::O2Fma), time(Variant::O2)));
            }
            if has(Variant::O2) && has(Variant::O2Intrinsics) {
                row.push(ratio(time(Variant::O2Intrinsics), time(Variant::O2)));
            }
            for &v in &o2s {
                for &p in &o.peers {
                    row.push(ratio(time(v), peer_time(p)));
                }
            }
            for &v in &o2s {
                match time(v).filter(|_| r.macs > 0) {
                    Some(t) => {
                        let g = r.gflops(t);
                        row.push(format!("{g:.2}"));
                        row.push(match self.peak_for(v) {
                            Ok(peak) => format!("{:.1}%", 100.0 * g / peak),
                            Err(_) => "n/a".into(),
                        });
                    }
                    None => row.extend(["n/a".to_string(), "n/a".to_string()]),
                }
            }
            s.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        s
    }
}

/// One build's five hottest steps, after a line with their number and total time; `peak`
/// is the GFLOP/s of the build's arithmetic.
fn steps_table(steps: &[super::StepTime], peak: Option<f64>) -> String {
    let total: Duration = steps.iter().map(|s| s.time).sum();
    let mut s = format!("{} steps, {} ms in all.\n\n", steps.len(), fmt_ms(total));
    s.push_str(
        "| step | kernel | op | node | share | time (ms) | MMAC | GFLOP/s | fastest (ms) | \
         GFLOP/s at fastest | % of peak at fastest |\n",
    );
    s.push_str("| ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    let gflops = |macs: u64, t: Duration| {
        (macs > 0 && !t.is_zero()).then(|| 2.0 * macs as f64 / t.as_secs_f64() / 1e9)
    };
    let at = |g: Option<f64>| g.map_or("-".to_string(), |g| format!("{g:.1}"));
    for st in steps.iter().take(5) {
        let best = gflops(st.macs, st.best);
        let share = match (best, peak) {
            (Some(g), Some(p)) if p > 0.0 => format!("{:.1}%", 100.0 * g / p),
            _ => "-".into(),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:.1}% | {} | {:.2} | {} | {} | {} | {share} |\n",
            st.index,
            cell(&st.kernel),
            cell(&st.op),
            cell_max(&st.node, 48),
            st.share * 100.0,
            fmt_ms(st.time),
            st.macs as f64 / 1e6,
            at(gflops(st.macs, st.time)),
            fmt_ms(st.best),
            at(best),
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_keep_four_significant_digits() {
        let ms = |x: f64| fmt_ms(Duration::from_secs_f64(x / 1e3));
        assert_eq!(ms(0.26496), "0.2650");
        assert_eq!(ms(1.23456), "1.235");
        assert_eq!(ms(12.3456), "12.35");
        assert_eq!(ms(123.456), "123.5");
    }
}
