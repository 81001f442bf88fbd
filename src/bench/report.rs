//! The Markdown report of a benchmark run: machine, peaks, method, the latency table and
//! the hottest steps.

use super::{Report, harness};
use kiln_passes::OptLevel;
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

fn level_name(l: OptLevel) -> &'static str {
    match l {
        OptLevel::O0 => "-O0",
        OptLevel::O2 => "-O2",
    }
}

impl Report {
    /// The report as Markdown: machine, peak, method, the latency table, the hottest steps.
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
        s.push_str(&format!(
            "- kiln's code: built by {} with cargo's release profile and `{}` (what `cargo \
             build --release` gives a user on this machine with those flags; see the README for \
             doing the same in a firmware crate).\n",
            m.rustc,
            harness::NATIVE_RUSTFLAGS.join(" ")
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
        match &self.peak_gflops {
            Ok(g) => s.push_str(&format!(
                "- Single-core peak, the best of its measurements in this run: {g:.1} GFLOP/s f32 (16 independent \
                 chains of `a = a * x + y` on 16 lanes; a multiply and an add count two flops, \
                 not fused, as in the generated code).\n"
            )),
            Err(e) => s.push_str(&format!("- Single-core peak: not measured ({}).\n", cell(e))),
        }
        s.push_str(&format!(
            "- Method: each round times kiln's code at {} and then each peer, every one for \
             about {:.2} s of runs on the same inputs in one process, and takes the median run; \
             the table gives the median over {} round{}. GFLOP/s counts a MAC of the `-O2` \
             program as two flops.\n\n",
            o.levels
                .iter()
                .map(|&l| level_name(l))
                .collect::<Vec<_>>()
                .join(", "),
            o.round_secs,
            o.rounds,
            if o.rounds == 1 { "" } else { "s" }
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
        s.push_str("\n## Hottest steps (kiln -O2)\n\n");
        s.push_str(
            "The five steps of the `-O2` code that take the most time, from a build with a \
             clock read after each step (`run_profiled`; step numbers as in `kiln inspect \
             --kernels`): each step's median time, its share of the sum over all steps, and \
             its GFLOP/s.\n",
        );
        for r in &self.models {
            s.push_str(&format!("\n### {}\n\n", r.name));
            match &r.steps {
                Err(e) => s.push_str(&format!("Not profiled: {}.\n", cell(e))),
                Ok(steps) => {
                    let total: Duration = steps.iter().map(|s| s.time).sum();
                    s.push_str(&format!(
                        "{} steps, {} ms in all.\n\n",
                        steps.len(),
                        fmt_ms(total)
                    ));
                    s.push_str(
                        "| step | kernel | op | node | share | time (ms) | MMAC | GFLOP/s |\n",
                    );
                    s.push_str("| ---: | --- | --- | --- | ---: | ---: | ---: | ---: |\n");
                    for st in steps.iter().take(5) {
                        let gflops = if st.macs == 0 || st.time.is_zero() {
                            "-".to_string()
                        } else {
                            format!("{:.1}", 2.0 * st.macs as f64 / st.time.as_secs_f64() / 1e9)
                        };
                        s.push_str(&format!(
                            "| {} | {} | {} | {} | {:.1}% | {} | {:.2} | {gflops} |\n",
                            st.index,
                            cell(&st.kernel),
                            cell(&st.op),
                            cell_max(&st.node, 48),
                            st.share * 100.0,
                            fmt_ms(st.time),
                            st.macs as f64 / 1e6
                        ));
                    }
                }
            }
        }
        s
    }

    /// The latency table: one row per model.
    pub fn latency_table(&self) -> String {
        let o = &self.options;
        let mut head = vec!["model".to_string(), "MMAC".into()];
        let mut align = vec!["---", "---:"];
        for &l in &o.levels {
            head.push(format!("kiln {} (ms)", level_name(l)));
            align.push("---:");
        }
        for &p in &o.peers {
            head.push(format!("{} (ms)", p.name()));
            align.push("---:");
        }
        let has = |l| o.levels.contains(&l);
        if has(OptLevel::O0) && has(OptLevel::O2) {
            head.push("-O0 / -O2".into());
            align.push("---:");
        }
        if has(OptLevel::O2) {
            for &p in &o.peers {
                head.push(format!("-O2 / {}", p.name()));
                align.push("---:");
            }
            head.push("GFLOP/s -O2".into());
            head.push("% of peak".into());
            align.extend(["---:", "---:"]);
        }
        let mut s = format!("| {} |\n| {} |\n", head.join(" | "), align.join(" | "));
        for r in &self.models {
            let mut row = vec![r.name.clone(), format!("{:.2}", r.macs as f64 / 1e6)];
            for (_, t) in &r.kiln {
                row.push(match t {
                    Ok(t) => fmt_ms(*t),
                    Err(e) => format!("failed: {}", cell(e)),
                });
            }
            for (_, t) in &r.peers {
                row.push(match t {
                    Ok(t) => fmt_ms(*t),
                    Err(e) => format!("not run: {}", cell(e)),
                });
            }
            let o2 = r.kiln_time(OptLevel::O2);
            if has(OptLevel::O0) && has(OptLevel::O2) {
                row.push(ratio(r.kiln_time(OptLevel::O0), o2));
            }
            if has(OptLevel::O2) {
                for &p in &o.peers {
                    row.push(ratio(o2, r.peer_time(p)));
                }
                match o2.filter(|_| r.macs > 0) {
                    Some(t) => {
                        let g = r.gflops(t);
                        row.push(format!("{g:.2}"));
                        row.push(match &self.peak_gflops {
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
