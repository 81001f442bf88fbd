//! The target: what generated code may assume about the machine it runs on (instruction
//! set, FPU, DSP, SIMD width). Named on the command line (`--target`), by a Rust target
//! triple, or by cargo's `TARGET` and `CARGO_CFG_TARGET_FEATURE` inside a build script.

use std::fmt;
use std::str::FromStr;

/// What generated code may assume. [`Target::Host`] stands for the machine kiln runs on
/// and stays `host` when printed; [`Target::resolve`] says what that is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Target {
    /// The machine kiln runs on.
    #[default]
    Host,
    /// Nothing beyond what Rust guarantees everywhere: scalar code, no FPU assumed. For
    /// build targets kiln does not know.
    Generic,
    /// x86-64 baseline (SSE2).
    X86_64,
    /// x86-64-v3: AVX2, FMA, BMI.
    X86_64V3,
    /// x86-64-v4: AVX-512 (F, BW, CD, DQ, VL).
    X86_64V4,
    /// AArch64 with NEON (always present on AArch64).
    Aarch64,
    /// Cortex-M0/M0+/M1: ARMv6-M, no FPU, no DSP.
    Thumbv6m,
    /// Cortex-M4/M7: ARMv7E-M, DSP always; single-precision FPU (hard-float) or not.
    Thumbv7em { fpu: bool },
    /// Cortex-M33/M35P/M55 class: ARMv8-M Mainline, DSP and FPU optional.
    Thumbv8mMain { dsp: bool, fpu: bool },
    /// RISC-V RV32IMC (e.g. ESP32-C3 without atomics).
    Riscv32imc,
    /// RISC-V RV32IMAC.
    Riscv32imac,
}

/// The instruction set family of a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    X86_64,
    Aarch64,
    /// 32-bit Arm, Thumb instruction set (Cortex-M).
    Thumb,
    Riscv32,
    /// Unknown: assume nothing.
    Other,
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Thumb => "thumb",
            Arch::Riscv32 => "riscv32",
            Arch::Other => "other",
        })
    }
}

/// A name that is not a target kiln knows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown target {name:?}; kiln knows {} (or a Rust target triple of one of these, e.g. \
     thumbv7em-none-eabihf)",
    Target::NAMES.join(", ")
)]
pub struct UnknownTarget {
    pub name: String,
}

impl Target {
    /// The canonical names, as [`fmt::Display`] prints them and [`FromStr`] accepts them.
    pub const NAMES: &'static [&'static str] = &[
        "host",
        "generic",
        "x86_64",
        "x86_64-v3",
        "x86_64-v4",
        "aarch64",
        "thumbv6m",
        "thumbv7em",
        "thumbv7em+fpu",
        "thumbv8m.main",
        "thumbv8m.main+dsp",
        "thumbv8m.main+fpu",
        "thumbv8m.main+dsp+fpu",
        "riscv32imc",
        "riscv32imac",
    ];

    /// The target from cargo's `TARGET` (a Rust target triple) and
    /// `CARGO_CFG_TARGET_FEATURE` (comma-separated features enabled for it), as a build
    /// script sees them: `avx2` and `fma` make x86-64 v3, `avx512f` v4; `eabihf` or an
    /// FP feature (`fp-armv8*`, `vfp*`) gives an Arm target its FPU; `dsp` its DSP.
    pub fn from_cargo_env(triple: &str, target_features: &str) -> Result<Target, UnknownTarget> {
        let base = Target::from_triple(triple).ok_or_else(|| UnknownTarget {
            name: triple.into(),
        })?;
        let features: Vec<&str> = target_features
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        let has = |f: &str| features.contains(&f);
        let fp = features
            .iter()
            .any(|f| f.starts_with("fp-armv8") || f.starts_with("vfp"));
        Ok(match base {
            Target::X86_64 | Target::X86_64V3 | Target::X86_64V4 => {
                if has("avx512f") {
                    Target::X86_64V4
                } else if has("avx2") && has("fma") {
                    Target::X86_64V3
                } else {
                    Target::X86_64
                }
            }
            Target::Thumbv7em { fpu } => Target::Thumbv7em { fpu: fpu || fp },
            Target::Thumbv8mMain { dsp, fpu } => Target::Thumbv8mMain {
                dsp: dsp || has("dsp"),
                fpu: fpu || fp,
            },
            Target::Riscv32imc if has("a") => Target::Riscv32imac,
            other => other,
        })
    }

    /// The target a Rust target triple names, without features (`eabihf` does give an FPU).
    fn from_triple(triple: &str) -> Option<Target> {
        let parts: Vec<&str> = triple.split('-').collect();
        let hard_float = parts.last().is_some_and(|env| env.ends_with("hf"));
        Some(match parts[0] {
            "x86_64" => Target::X86_64,
            "aarch64" | "arm64" => Target::Aarch64,
            "thumbv6m" => Target::Thumbv6m,
            "thumbv7em" => Target::Thumbv7em { fpu: hard_float },
            "thumbv8m.main" => Target::Thumbv8mMain {
                dsp: false,
                fpu: hard_float,
            },
            "riscv32imc" => Target::Riscv32imc,
            "riscv32imac" => Target::Riscv32imac,
            _ => return None,
        })
    }

    /// The machine kiln runs on: its architecture and the features it has (detected at
    /// run time on x86-64).
    pub fn detect_host() -> Target {
        #[cfg(target_arch = "x86_64")]
        {
            let v4 = std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512cd")
                && std::is_x86_feature_detected!("avx512dq")
                && std::is_x86_feature_detected!("avx512vl");
            let v3 = std::is_x86_feature_detected!("avx2")
                && std::is_x86_feature_detected!("fma")
                && std::is_x86_feature_detected!("bmi1")
                && std::is_x86_feature_detected!("bmi2")
                && std::is_x86_feature_detected!("f16c")
                && std::is_x86_feature_detected!("lzcnt")
                && std::is_x86_feature_detected!("movbe");
            if v3 && v4 {
                Target::X86_64V4
            } else if v3 {
                Target::X86_64V3
            } else {
                Target::X86_64
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            Target::Aarch64
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            Target::Generic
        }
    }

    /// This target with `Host` replaced by the machine kiln runs on.
    pub fn resolve(self) -> Target {
        match self {
            Target::Host => Target::detect_host(),
            other => other,
        }
    }

    pub fn arch(self) -> Arch {
        match self.resolve() {
            Target::X86_64 | Target::X86_64V3 | Target::X86_64V4 => Arch::X86_64,
            Target::Aarch64 => Arch::Aarch64,
            Target::Thumbv6m | Target::Thumbv7em { .. } | Target::Thumbv8mMain { .. } => {
                Arch::Thumb
            }
            Target::Riscv32imc | Target::Riscv32imac => Arch::Riscv32,
            Target::Host | Target::Generic => Arch::Other,
        }
    }

    /// Whether floating-point arithmetic runs in hardware (not soft-float library calls).
    pub fn has_fpu(self) -> bool {
        match self.resolve() {
            Target::X86_64 | Target::X86_64V3 | Target::X86_64V4 | Target::Aarch64 => true,
            Target::Thumbv7em { fpu } | Target::Thumbv8mMain { fpu, .. } => fpu,
            Target::Thumbv6m
            | Target::Riscv32imc
            | Target::Riscv32imac
            | Target::Host
            | Target::Generic => false,
        }
    }

    /// Whether the Arm DSP extension (packed 8- and 16-bit arithmetic, saturating
    /// multiply-accumulate) is there.
    pub fn has_dsp(self) -> bool {
        match self.resolve() {
            Target::Thumbv7em { .. } => true,
            Target::Thumbv8mMain { dsp, .. } => dsp,
            Target::X86_64
            | Target::X86_64V3
            | Target::X86_64V4
            | Target::Aarch64
            | Target::Thumbv6m
            | Target::Riscv32imc
            | Target::Riscv32imac
            | Target::Host
            | Target::Generic => false,
        }
    }

    /// Width of the widest vector registers the autovectoriser may use, in bytes (0: none).
    pub fn simd_bytes(self) -> usize {
        match self.resolve() {
            Target::X86_64 | Target::Aarch64 => 16,
            Target::X86_64V3 => 32,
            Target::X86_64V4 => 64,
            Target::Thumbv6m
            | Target::Thumbv7em { .. }
            | Target::Thumbv8mMain { .. }
            | Target::Riscv32imc
            | Target::Riscv32imac
            | Target::Host
            | Target::Generic => 0,
        }
    }

    /// Whether the target computes in f64 in hardware (x86-64, AArch64), so f32 math may
    /// take an f64 detour cheaply; kiln's Thumb targets assume a single-precision FPU at
    /// most, where each f64 operation is a library call.
    pub fn has_f64_unit(self) -> bool {
        matches!(self.arch(), Arch::X86_64 | Arch::Aarch64)
    }

    /// Whether fused multiply-add is a single instruction (so `mul_add` is cheap).
    pub fn has_fma(self) -> bool {
        match self.resolve() {
            Target::X86_64V3 | Target::X86_64V4 | Target::Aarch64 => true,
            Target::Thumbv7em { fpu } | Target::Thumbv8mMain { fpu, .. } => fpu,
            Target::X86_64
            | Target::Thumbv6m
            | Target::Riscv32imc
            | Target::Riscv32imac
            | Target::Host
            | Target::Generic => false,
        }
    }

    /// Whether vector gathers of 32-bit words are one instruction (AVX2's and AVX-512's
    /// VPGATHERDD), so a lookup table of words is read a vector at a time where one of
    /// bytes takes a load per element.
    pub fn has_gather(self) -> bool {
        matches!(self.resolve(), Target::X86_64V3 | Target::X86_64V4)
    }

    /// Bits of a pointer (and `usize`). `generic` assumes the smaller, 32.
    pub fn pointer_width(self) -> u32 {
        match self.resolve() {
            Target::X86_64 | Target::X86_64V3 | Target::X86_64V4 | Target::Aarch64 => 64,
            Target::Thumbv6m
            | Target::Thumbv7em { .. }
            | Target::Thumbv8mMain { .. }
            | Target::Riscv32imc
            | Target::Riscv32imac
            | Target::Host
            | Target::Generic => 32,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Host => f.write_str("host"),
            Target::Generic => f.write_str("generic"),
            Target::X86_64 => f.write_str("x86_64"),
            Target::X86_64V3 => f.write_str("x86_64-v3"),
            Target::X86_64V4 => f.write_str("x86_64-v4"),
            Target::Aarch64 => f.write_str("aarch64"),
            Target::Thumbv6m => f.write_str("thumbv6m"),
            Target::Thumbv7em { fpu } => {
                f.write_str("thumbv7em")?;
                if *fpu {
                    f.write_str("+fpu")?;
                }
                Ok(())
            }
            Target::Thumbv8mMain { dsp, fpu } => {
                f.write_str("thumbv8m.main")?;
                if *dsp {
                    f.write_str("+dsp")?;
                }
                if *fpu {
                    f.write_str("+fpu")?;
                }
                Ok(())
            }
            Target::Riscv32imc => f.write_str("riscv32imc"),
            Target::Riscv32imac => f.write_str("riscv32imac"),
        }
    }
}

impl FromStr for Target {
    type Err = UnknownTarget;

    /// A canonical name (see [`Target::NAMES`]; `-fpu` for `+fpu` and `x86-64` for
    /// `x86_64` are accepted too, and `+dsp` on `thumbv7em`, where it is implied), or a
    /// Rust target triple such as `thumbv7em-none-eabihf` or `x86_64-unknown-linux-gnu`
    /// (the triple's baseline: features come from [`Target::from_cargo_env`]).
    fn from_str(s: &str) -> Result<Target, UnknownTarget> {
        let unknown = || UnknownTarget { name: s.into() };
        let name = s.trim().to_ascii_lowercase().replace("x86-64", "x86_64");
        // A triple has three or four parts; a name at most two (`x86_64-v3`).
        if name.split('-').count() >= 3 {
            return Target::from_triple(&name).ok_or_else(unknown);
        }
        let name = name.replace("-fpu", "+fpu").replace("-dsp", "+dsp");
        let mut parts = name.split('+');
        let base = parts.next().unwrap_or_default();
        let (mut dsp, mut fpu) = (false, false);
        for feature in parts {
            match feature {
                "dsp" if !dsp => dsp = true,
                "fpu" if !fpu => fpu = true,
                _ => return Err(unknown()),
            }
        }
        let plain = |t: Target| if dsp || fpu { Err(unknown()) } else { Ok(t) };
        match base {
            "host" => plain(Target::Host),
            "generic" => plain(Target::Generic),
            "x86_64" => plain(Target::X86_64),
            "x86_64-v3" => plain(Target::X86_64V3),
            "x86_64-v4" => plain(Target::X86_64V4),
            "aarch64" | "arm64" => plain(Target::Aarch64),
            "thumbv6m" => plain(Target::Thumbv6m),
            // DSP is part of ARMv7E-M.
            "thumbv7em" => Ok(Target::Thumbv7em { fpu }),
            "thumbv8m.main" => Ok(Target::Thumbv8mMain { dsp, fpu }),
            "riscv32imc" => plain(Target::Riscv32imc),
            "riscv32imac" => plain(Target::Riscv32imac),
            _ => Err(unknown()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Target {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn every_canonical_name_parses_back_to_itself() {
        for &name in Target::NAMES {
            assert_eq!(t(name).to_string(), name);
        }
    }

    #[test]
    fn names_aliases_and_triples_parse() {
        assert_eq!(t("thumbv7em-fpu"), Target::Thumbv7em { fpu: true });
        assert_eq!(t("thumbv7em+dsp+fpu"), Target::Thumbv7em { fpu: true });
        assert_eq!(t("x86-64-v3"), Target::X86_64V3);
        assert_eq!(t("thumbv7em-none-eabihf"), Target::Thumbv7em { fpu: true });
        assert_eq!(t("thumbv7em-none-eabi"), Target::Thumbv7em { fpu: false });
        assert_eq!(
            t("thumbv8m.main-none-eabihf"),
            Target::Thumbv8mMain {
                dsp: false,
                fpu: true
            }
        );
        assert_eq!(t("thumbv6m-none-eabi"), Target::Thumbv6m);
        assert_eq!(t("x86_64-unknown-linux-gnu"), Target::X86_64);
        assert_eq!(t("aarch64-unknown-linux-gnu"), Target::Aarch64);
        assert_eq!(t("riscv32imac-unknown-none-elf"), Target::Riscv32imac);
        assert_eq!(t("riscv32imc-unknown-none-elf"), Target::Riscv32imc);
        assert_eq!(t("host"), Target::Host);
        assert_eq!(Target::Host.to_string(), "host");
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        for bad in [
            "cortex-m4",
            "thumbv7m-none-eabi",
            "x86_64+fpu",
            "thumbv6m+fpu",
            "riscv64gc",
            "",
        ] {
            let e = bad.parse::<Target>().unwrap_err().to_string();
            assert!(
                e.contains("thumbv7em+fpu") && e.contains("riscv32imac"),
                "{e}"
            );
        }
    }

    #[test]
    fn cargo_env_maps_triple_and_features() {
        let env = |triple, features| Target::from_cargo_env(triple, features).unwrap();
        assert_eq!(
            env("x86_64-unknown-linux-gnu", "fxsr,sse,sse2"),
            Target::X86_64
        );
        assert_eq!(
            env("x86_64-unknown-linux-gnu", "avx,avx2,fma,fxsr,sse,sse2"),
            Target::X86_64V3
        );
        assert_eq!(
            env("x86_64-unknown-linux-gnu", "avx2,avx512f,fma"),
            Target::X86_64V4
        );
        assert_eq!(env("aarch64-unknown-linux-gnu", "neon"), Target::Aarch64);
        assert_eq!(
            env("thumbv7em-none-eabihf", ""),
            Target::Thumbv7em { fpu: true }
        );
        assert_eq!(
            env("thumbv7em-none-eabi", "dsp,thumb2"),
            Target::Thumbv7em { fpu: false }
        );
        assert_eq!(
            env("thumbv7em-none-eabi", "dsp,vfp4d16sp"),
            Target::Thumbv7em { fpu: true }
        );
        assert_eq!(
            env("thumbv8m.main-none-eabi", "dsp,fp-armv8d16sp"),
            Target::Thumbv8mMain {
                dsp: true,
                fpu: true
            }
        );
        assert_eq!(
            env("riscv32imc-unknown-none-elf", "a,c,m"),
            Target::Riscv32imac
        );
        assert!(Target::from_cargo_env("wasm32-unknown-unknown", "").is_err());
    }

    #[test]
    fn facts() {
        let m4f = t("thumbv7em+fpu");
        assert_eq!(m4f.arch(), Arch::Thumb);
        assert!(m4f.has_fpu() && m4f.has_dsp() && m4f.has_fma());
        assert_eq!((m4f.simd_bytes(), m4f.pointer_width()), (0, 32));
        let m0 = Target::Thumbv6m;
        assert!(!m0.has_fpu() && !m0.has_dsp() && !m0.has_fma());
        assert_eq!(Target::X86_64V3.simd_bytes(), 32);
        assert_eq!(Target::X86_64V4.simd_bytes(), 64);
        assert_eq!(Target::X86_64.simd_bytes(), 16);
        assert!(!Target::X86_64.has_fma());
        assert_eq!(Target::Aarch64.pointer_width(), 64);
        assert_eq!(Target::Riscv32imac.arch(), Arch::Riscv32);
        // Host stays `host` and resolves to a concrete target.
        assert_ne!(Target::Host.resolve(), Target::Host);
        if cfg!(target_arch = "x86_64") {
            assert_eq!(Target::Host.arch(), Arch::X86_64);
        }
    }
}
