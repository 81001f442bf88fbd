//! Device profiles: what a compilation is for. A profile names the target the lowering
//! chooses kernels for, the toolchain and emulator `kiln verify --device` uses, and the
//! RAM and flash budgets a model must fit: `kiln compile --device stm32f446re` fails when
//! the arena and stack exceed RAM or the weights and code exceed flash, by how much, and
//! what would fit.
//!
//! The built-in profiles are in [`BUILTIN`] (`kiln devices` lists them); a TOML file with
//! the same fields describes any other board (see [`Device::from_toml`]).

use crate::Error;
use kiln_ir::Target;
use std::path::Path;

/// How `kiln verify --device` runs code built for a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Emulator {
    /// `qemu-system-arm -M <machine>`: an Arm MPS2 board whose core runs the device's code,
    /// bare metal, with semihosting.
    QemuSystemArm { machine: String },
    /// `qemu-aarch64` user mode: a Linux program built with the Debian cross toolchain.
    QemuAarch64,
    /// The machine kiln runs on (when it has the profile's features).
    Native,
}

impl Emulator {
    fn parse(s: &str) -> Option<Emulator> {
        match s {
            "qemu-aarch64" => Some(Emulator::QemuAarch64),
            "native" => Some(Emulator::Native),
            m if m.starts_with("mps2-") => Some(Emulator::QemuSystemArm {
                machine: m.to_string(),
            }),
            _ => None,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Emulator::QemuSystemArm { machine } => machine,
            Emulator::QemuAarch64 => "qemu-aarch64",
            Emulator::Native => "native",
        }
    }
}

/// A target device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// The profile's name (`--device NAME`).
    pub name: String,
    /// One line: the part and its board.
    pub description: String,
    /// The CPU core, as gcc's `-mcpu` spells it (`cortex-m4`).
    pub core: String,
    /// What the generated code may assume; the lowering chooses kernels for it.
    pub target: Target,
    /// The Rust target triple, or `None` where Rust has no stable target (ESP32-S3: C only).
    pub rust_triple: Option<String>,
    /// gcc flags for the C backend's cross build (`-mcpu=... -mthumb -mfloat-abi=...`).
    pub c_flags: Vec<String>,
    /// Bytes of RAM for the model: the arena and the stack of `run`.
    pub ram_bytes: u64,
    /// Bytes of flash for the weights and code, or `None` where they load into RAM from
    /// storage (a Raspberry Pi): then they count against RAM.
    pub flash_bytes: Option<u64>,
    /// RAM kept for `run`'s stack (kiln's kernels use well under 1 KiB; the rest is the
    /// firmware's). `kiln verify --device` measures the real figure.
    pub stack_bytes: u64,
    /// Flash kept for the model's code (kernels and `run`). `kiln verify --device` reports
    /// the real `.text`; set this from it for a tight budget.
    pub code_bytes: u64,
    pub clock_mhz: Option<u32>,
    /// How `kiln verify --device` runs the code, if it can.
    pub emulator: Option<Emulator>,
}

/// One built-in profile, as data.
struct Builtin {
    name: &'static str,
    description: &'static str,
    core: &'static str,
    target: &'static str,
    rust: Option<&'static str>,
    c_flags: &'static str,
    ram: u64,
    flash: Option<u64>,
    stack: u64,
    code: u64,
    mhz: u32,
    emulator: Option<&'static str>,
}

const K: u64 = 1024;
const M: u64 = 1024 * 1024;

const M4F_FLAGS: &str = "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16";

/// The built-in profiles. RAM is the part's SRAM usable as one region (where a part splits
/// it, the largest contiguous block a linker script would give the arena); flash the
/// on-chip (or, for the RP2040 and ESP32-S3, the usual board's) program storage.
const BUILTIN: &[Builtin] = &[
    Builtin {
        name: "rp2040",
        description: "Raspberry Pi RP2040 (Pico): dual Cortex-M0+, no FPU, 264 KiB SRAM, 2 MiB QSPI flash",
        core: "cortex-m0plus",
        target: "thumbv6m",
        rust: Some("thumbv6m-none-eabi"),
        c_flags: "-mcpu=cortex-m0plus -mthumb -mfloat-abi=soft",
        ram: 264 * K,
        flash: Some(2 * M),
        stack: 4 * K,
        code: 64 * K,
        mhz: 133,
        // QEMU has no Cortex-M0+ board with enough RAM; ARMv6-M code runs unchanged on the
        // Cortex-M3 of the AN385 image.
        emulator: Some("mps2-an385"),
    },
    Builtin {
        name: "stm32f446re",
        description: "ST STM32F446RE (Nucleo-64): Cortex-M4F, 128 KiB SRAM, 512 KiB flash",
        core: "cortex-m4",
        target: "thumbv7em+fpu",
        rust: Some("thumbv7em-none-eabihf"),
        c_flags: M4F_FLAGS,
        ram: 128 * K,
        flash: Some(512 * K),
        stack: 4 * K,
        code: 64 * K,
        mhz: 180,
        emulator: Some("mps2-an386"),
    },
    Builtin {
        name: "stm32l4r5",
        description: "ST STM32L4R5ZI (Nucleo-144): Cortex-M4F, 640 KiB SRAM, 2 MiB flash",
        core: "cortex-m4",
        target: "thumbv7em+fpu",
        rust: Some("thumbv7em-none-eabihf"),
        c_flags: M4F_FLAGS,
        ram: 640 * K,
        flash: Some(2 * M),
        stack: 4 * K,
        code: 64 * K,
        mhz: 120,
        emulator: Some("mps2-an386"),
    },
    Builtin {
        name: "nrf52840",
        description: "Nordic nRF52840: Cortex-M4F, 256 KiB RAM, 1 MiB flash",
        core: "cortex-m4",
        target: "thumbv7em+fpu",
        rust: Some("thumbv7em-none-eabihf"),
        c_flags: M4F_FLAGS,
        ram: 256 * K,
        flash: Some(M),
        stack: 4 * K,
        code: 64 * K,
        mhz: 64,
        emulator: Some("mps2-an386"),
    },
    Builtin {
        name: "stm32h743",
        description: "ST STM32H743: Cortex-M7 with double-precision FPU, 512 KiB AXI SRAM (of 1 MiB), 2 MiB flash",
        core: "cortex-m7",
        target: "thumbv7em+fpu",
        rust: Some("thumbv7em-none-eabihf"),
        c_flags: "-mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16",
        ram: 512 * K,
        flash: Some(2 * M),
        stack: 4 * K,
        code: 64 * K,
        mhz: 480,
        emulator: Some("mps2-an500"),
    },
    Builtin {
        name: "stm32u585",
        description: "ST STM32U585: Cortex-M33 with FPU and DSP, 768 KiB SRAM, 2 MiB flash",
        core: "cortex-m33",
        target: "thumbv8m.main+dsp+fpu",
        rust: Some("thumbv8m.main-none-eabihf"),
        c_flags: "-mcpu=cortex-m33 -mthumb -mfloat-abi=hard -mfpu=fpv5-sp-d16",
        ram: 768 * K,
        flash: Some(2 * M),
        stack: 4 * K,
        code: 64 * K,
        mhz: 160,
        emulator: Some("mps2-an505"),
    },
    Builtin {
        name: "esp32-s3",
        description: "Espressif ESP32-S3: dual Xtensa LX7, 512 KiB SRAM, 8 MiB flash (C only: Rust's Xtensa target is not in rustup)",
        core: "esp32s3",
        target: "generic",
        rust: None,
        c_flags: "",
        ram: 512 * K,
        flash: Some(8 * M),
        stack: 8 * K,
        code: 64 * K,
        mhz: 240,
        emulator: None,
    },
    Builtin {
        name: "rpi4",
        description: "Raspberry Pi 4: Cortex-A72 (aarch64, NEON), 1 GiB budgeted of its 1-8 GiB, Linux",
        core: "cortex-a72",
        target: "aarch64",
        rust: Some("aarch64-unknown-linux-gnu"),
        c_flags: "-mcpu=cortex-a72",
        ram: 1024 * M,
        flash: None,
        stack: 64 * K,
        code: M,
        mhz: 1800,
        emulator: Some("qemu-aarch64"),
    },
    Builtin {
        name: "rpi5",
        description: "Raspberry Pi 5: Cortex-A76 (aarch64, NEON), 1 GiB budgeted of its 2-16 GiB, Linux",
        core: "cortex-a76",
        target: "aarch64",
        rust: Some("aarch64-unknown-linux-gnu"),
        c_flags: "-mcpu=cortex-a76",
        ram: 1024 * M,
        flash: None,
        stack: 64 * K,
        code: M,
        mhz: 2400,
        emulator: Some("qemu-aarch64"),
    },
    Builtin {
        name: "x86-64-v3",
        description: "An x86-64-v3 machine (AVX2, FMA): 1 GiB budgeted, Linux",
        core: "x86-64-v3",
        target: "x86_64-v3",
        rust: Some("x86_64-unknown-linux-gnu"),
        c_flags: "-march=x86-64-v3",
        ram: 1024 * M,
        flash: None,
        stack: 64 * K,
        code: M,
        mhz: 0,
        emulator: Some("native"),
    },
];

impl Builtin {
    fn device(&self) -> Device {
        Device {
            name: self.name.into(),
            description: self.description.into(),
            core: self.core.into(),
            // The table's names are canonical (a unit test parses every one).
            target: self.target.parse().unwrap_or(Target::Generic),
            rust_triple: self.rust.map(str::to_string),
            c_flags: self.c_flags.split_whitespace().map(String::from).collect(),
            ram_bytes: self.ram,
            flash_bytes: self.flash,
            stack_bytes: self.stack,
            code_bytes: self.code,
            clock_mhz: (self.mhz > 0).then_some(self.mhz),
            emulator: self.emulator.and_then(Emulator::parse),
        }
    }
}

/// The built-in profiles, in the order `kiln devices` lists them.
pub fn builtins() -> Vec<Device> {
    BUILTIN.iter().map(Builtin::device).collect()
}

/// The fields of a profile file: sizes as `--max-arena-bytes` takes them (`"128K"`).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    core: String,
    target: String,
    rust_target: Option<String>,
    #[serde(default)]
    c_flags: Vec<String>,
    ram: SizeField,
    flash: Option<SizeField>,
    stack: Option<SizeField>,
    code: Option<SizeField>,
    clock_mhz: Option<u32>,
    emulator: Option<String>,
}

/// A size in a profile file: a number of bytes or a string with a suffix.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum SizeField {
    Bytes(u64),
    Text(String),
}

impl SizeField {
    fn bytes(&self, field: &str) -> Result<u64, String> {
        match self {
            SizeField::Bytes(n) => Ok(*n),
            SizeField::Text(s) => crate::parse_bytes(s).map_err(|e| format!("{field}: {e}")),
        }
    }
}

impl Device {
    /// A built-in profile by name (case and `_`/`-` do not matter), or a TOML file (a name
    /// ending in `.toml`, or any path that exists).
    pub fn find(name_or_file: &str) -> Result<Device, Error> {
        let path = Path::new(name_or_file);
        if name_or_file.ends_with(".toml") || path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            return Device::from_toml(&text)
                .map_err(|e| Error::Usage(format!("device file {}: {e}", path.display())));
        }
        let key = name_or_file.trim().to_ascii_lowercase().replace('_', "-");
        builtins()
            .into_iter()
            .find(|d| d.name == key)
            .ok_or_else(|| {
                let names: Vec<&str> = BUILTIN.iter().map(|b| b.name).collect();
                Error::Usage(format!(
                    "unknown device {name_or_file:?}: the built-in profiles are {} (`kiln devices` \
                 describes them), or give a profile file, e.g. --device board.toml",
                    names.join(", ")
                ))
            })
    }

    /// Reads a profile file:
    ///
    /// ```toml
    /// name = "my-board"
    /// description = "STM32L476 on my board"
    /// core = "cortex-m4"
    /// target = "thumbv7em+fpu"          # as --target takes it
    /// rust_target = "thumbv7em-none-eabihf"
    /// c_flags = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
    /// ram = "96K"                       # arena + stack must fit
    /// flash = "1M"                      # weights + code must fit (omit: they count as RAM)
    /// stack = "4K"                      # default 4K
    /// code = "64K"                      # flash kept for code, default 64K
    /// clock_mhz = 80
    /// emulator = "mps2-an386"           # or qemu-aarch64, native; omit if none
    /// ```
    pub fn from_toml(text: &str) -> Result<Device, String> {
        let f: DeviceFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let target: Target = f.target.parse().map_err(|e| format!("target: {e}"))?;
        let emulator = match &f.emulator {
            None => None,
            Some(e) => Some(Emulator::parse(e).ok_or_else(|| {
                format!(
                    "emulator {e:?}: use an MPS2 board (mps2-an385, mps2-an386, mps2-an500, \
                     mps2-an505), qemu-aarch64 or native"
                )
            })?),
        };
        let ram_bytes = f.ram.bytes("ram")?;
        if ram_bytes == 0 {
            return Err("ram: a device needs some RAM".into());
        }
        Ok(Device {
            name: f.name,
            description: f.description,
            core: f.core,
            target,
            rust_triple: f.rust_target,
            c_flags: f.c_flags,
            ram_bytes,
            flash_bytes: f.flash.map(|s| s.bytes("flash")).transpose()?,
            stack_bytes: f.stack.map_or(Ok(4 * K), |s| s.bytes("stack"))?,
            code_bytes: f.code.map_or(Ok(64 * K), |s| s.bytes("code"))?,
            clock_mhz: f.clock_mhz,
            emulator,
        })
    }

    /// Checks a compiled model's memory against the budgets: arena + stack against RAM,
    /// weights + code against flash (or, without flash, everything against RAM).
    pub fn check_fit(&self, fit: &Fit) -> Result<(), Error> {
        let ram_need = fit.arena + self.stack_bytes;
        let (flash_need, flash_have, flash_name) = match self.flash_bytes {
            Some(f) => (fit.weights + self.code_bytes, f, "flash"),
            None => (
                ram_need + fit.weights + self.code_bytes,
                self.ram_bytes,
                "RAM",
            ),
        };
        let mut over = Vec::new();
        if ram_need > self.ram_bytes && self.flash_bytes.is_some() {
            over.push(format!(
                "RAM: arena {} + stack reserve {} = {} exceeds {}'s {} by {}",
                human(fit.arena),
                human(self.stack_bytes),
                human(ram_need),
                self.name,
                human(self.ram_bytes),
                human(ram_need - self.ram_bytes)
            ));
        }
        if flash_need > flash_have {
            let parts = if self.flash_bytes.is_some() {
                format!(
                    "weights {} + code reserve {}",
                    human(fit.weights),
                    human(self.code_bytes)
                )
            } else {
                format!(
                    "arena {} + stack {} + weights {} + code {}",
                    human(fit.arena),
                    human(self.stack_bytes),
                    human(fit.weights),
                    human(self.code_bytes)
                )
            };
            over.push(format!(
                "{flash_name}: {parts} = {} exceeds {}'s {} by {}",
                human(flash_need),
                self.name,
                human(flash_have),
                human(flash_need - flash_have)
            ));
        }
        if over.is_empty() {
            return Ok(());
        }
        Err(Error::DoesNotFit {
            device: self.name.clone(),
            over,
            advice: self.advice(fit),
        })
    }

    /// What would fit: the int8 build's estimated size for a float model, else a smaller
    /// input or a larger part.
    fn advice(&self, fit: &Fit) -> String {
        let mut v = Vec::new();
        if fit.float_weights > 0 {
            // int8 weights take a quarter of f32's; activations the same.
            let w = fit.weights - fit.float_weights + fit.float_weights / 4;
            let a = fit.arena / 4;
            let ram_ok = a + self.stack_bytes <= self.ram_bytes;
            let flash_ok = match self.flash_bytes {
                Some(f) => w + self.code_bytes <= f,
                None => a + self.stack_bytes + w + self.code_bytes <= self.ram_bytes,
            };
            let verdict = if ram_ok && flash_ok {
                "which fits"
            } else {
                "which does not fit either"
            };
            v.push(format!(
                "An int8 build (--quantize int8 --calibration DIR, or an int8 QDQ model) \
                 would need about {} of weights and {} of arena, {verdict}.",
                human(w),
                human(a)
            ));
        }
        v.push(
            "Otherwise: a smaller input shape (--input-shape), a smaller model, or a device \
             with more memory (`kiln devices` lists them; a profile file sets ram, flash, \
             stack and code)."
                .into(),
        );
        v.join(" ")
    }

    /// How a compiled model uses the budgets, one line: `kiln compile --device` prints it.
    pub fn usage(&self, fit: &Fit) -> String {
        let ram = fit.arena + self.stack_bytes;
        let flash = match self.flash_bytes {
            Some(f) => format!(
                "; flash: weights {} + code reserve {} of {} ({:.0}%)",
                human(fit.weights),
                human(self.code_bytes),
                compact(f),
                percent(fit.weights + self.code_bytes, f)
            ),
            None => format!("; weights {} (loaded into RAM)", human(fit.weights)),
        };
        let pairs = if fit.pair_bytes > 0 {
            format!(
                " (of the weights, {} are the int8 convolutions' as 16-bit pairs for the \
                 SMLAD kernels, which the flash holds; as i8 they would be that much smaller \
                 and slower)",
                human(fit.pair_bytes)
            )
        } else {
            String::new()
        };
        format!(
            "fits {}: RAM: arena {} + stack reserve {} of {} ({:.0}%){flash}{pairs}",
            self.name,
            human(fit.arena),
            human(self.stack_bytes),
            compact(self.ram_bytes),
            percent(ram, self.ram_bytes)
        )
    }

    /// The section `kiln compile --emit crate|c --device` appends to the generated README.
    pub fn readme_section(&self, fit: &Fit) -> String {
        let mut s = format!("\n## On {}\n\n{}.\n\n", self.name, self.description);
        s += "| | this model | budget |\n|-|-:|-:|\n";
        s += &format!(
            "| RAM: arena (one static buffer, never the stack) | {} B | |\n",
            fit.arena
        );
        s += &format!(
            "| RAM: stack reserve for `run` and the firmware | {} B | |\n",
            self.stack_bytes
        );
        s += &format!(
            "| RAM total | {} B | {} B ({:.0}% used) |\n",
            fit.arena + self.stack_bytes,
            self.ram_bytes,
            percent(fit.arena + self.stack_bytes, self.ram_bytes)
        );
        match self.flash_bytes {
            Some(f) => {
                s += &format!("| flash: weights (constants) | {} B | |\n", fit.weights);
                s += &format!("| flash: code reserve | {} B | |\n", self.code_bytes);
                s += &format!(
                    "| flash total | {} B | {} B ({:.0}% used) |\n",
                    fit.weights + self.code_bytes,
                    f,
                    percent(fit.weights + self.code_bytes, f)
                );
            }
            None => {
                s += &format!("| weights, loaded into RAM | {} B | |\n", fit.weights);
            }
        }
        if fit.pair_bytes > 0 {
            s += &format!(
                "\nOf the weights, {} B are the int8 convolutions' weights a second time: they \
                 are stored as sign-extended 16-bit pairs, which the SMLAD kernels load without \
                 sign-extending them (fewer instructions per MAC), because this device's flash \
                 holds them. A profile with less flash gets them as i8.\n",
                fit.pair_bytes
            );
        }
        s += &format!(
            "\nOne run is {} multiply-accumulates. The reserves are the profile's estimates: \
             `kiln verify --device {}` builds this code for the part, runs it in an emulator \
             and reports the real code size (`.text`), the stack `run` used and the \
             instructions per MAC.\n",
            fit.macs, self.name
        );
        s
    }

    /// One line per fact, for `kiln devices`.
    pub fn describe(&self) -> String {
        let human = compact;
        let mut s = format!("{}: {}\n", self.name, self.description);
        let flash = self
            .flash_bytes
            .map_or("none (weights and code load into RAM)".into(), human);
        s += &format!(
            "    core {}, target {}, Rust {}, clock {}\n",
            self.core,
            self.target,
            self.rust_triple.as_deref().unwrap_or("none (C only)"),
            self.clock_mhz.map_or("-".into(), |m| format!("{m} MHz"))
        );
        s += &format!(
            "    RAM {} (stack reserve {}), flash {} (code reserve {})\n",
            human(self.ram_bytes),
            human(self.stack_bytes),
            flash,
            human(self.code_bytes)
        );
        let mut features = Vec::new();
        if self.target.has_fpu() {
            features.push("FPU".to_string());
        }
        if self.target.has_dsp() {
            features.push("DSP".to_string());
        }
        if self.target.simd_bytes() > 0 {
            features.push(format!("{}-bit SIMD", self.target.simd_bytes() * 8));
        }
        if features.is_empty() {
            features.push("integer only".into());
        }
        s += &format!(
            "    features {}; verify with {}\n\n",
            features.join(", "),
            self.emulator
                .as_ref()
                .map_or("(no emulator)".to_string(), |e| e.name().to_string())
        );
        s
    }
}

/// The memory a compiled model needs, for [`Device::check_fit`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Fit {
    pub arena: u64,
    /// All constant bytes.
    pub weights: u64,
    /// Of those, f32 weights an int8 build would quantize.
    pub float_weights: u64,
    /// Of those, what storing the SMLAD convolutions' i8 weights as 16-bit pairs added (C
    /// on a DSP core, when the flash holds them: see `kiln_codegen::lower`).
    pub pair_bytes: u64,
    pub macs: u64,
}

fn percent(part: u64, whole: u64) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}

/// A budget as `128 KiB` or `2 MiB` (exact when it is a whole number of them).
fn compact(n: u64) -> String {
    match n {
        n if n >= M && n % M == 0 => format!("{} MiB", n / M),
        n if n >= K && n % K == 0 => format!("{} KiB", n / K),
        n => format!("{n} B"),
    }
}

/// Bytes with a binary-prefixed size: `196608 B (192.0 KiB)`.
fn human(n: u64) -> String {
    crate::report::human(usize::try_from(n).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_target_parses_and_names_are_unique() {
        let mut names = std::collections::BTreeSet::new();
        for b in BUILTIN {
            assert!(b.target.parse::<Target>().is_ok(), "{}", b.name);
            assert!(b.emulator.is_none_or(|e| Emulator::parse(e).is_some()));
            assert!(names.insert(b.name), "{} twice", b.name);
            let d = Device::find(b.name).unwrap();
            assert_eq!(d.name, b.name);
        }
        // The issue's list: an M0+, two M4F, an M7, an M33, the ESP32-S3, two Pis, x86-64-v3.
        for core in [
            "cortex-m0plus",
            "cortex-m4",
            "cortex-m7",
            "cortex-m33",
            "esp32s3",
        ] {
            assert!(BUILTIN.iter().any(|b| b.core == core), "{core}");
        }
    }

    #[test]
    fn names_are_forgiving_and_unknown_ones_list_the_builtins() {
        assert_eq!(Device::find("STM32F446RE").unwrap().name, "stm32f446re");
        assert_eq!(Device::find("x86_64_v3").unwrap().name, "x86-64-v3");
        let e = Device::find("stm32f4").unwrap_err().to_string();
        assert!(e.contains("rp2040") && e.contains("kiln devices"), "{e}");
    }

    #[test]
    fn a_profile_file_reads_sizes_with_suffixes() {
        let d = Device::from_toml(
            "name = \"b\"\ntarget = \"thumbv7em+fpu\"\nram = \"96K\"\nflash = 1048576\nemulator = \"mps2-an386\"\n",
        )
        .unwrap();
        assert_eq!(d.ram_bytes, 96 * 1024);
        assert_eq!(d.flash_bytes, Some(1 << 20));
        assert_eq!(d.stack_bytes, 4096);
        assert_eq!(d.target, Target::Thumbv7em { fpu: true });
        for (bad, says) in [
            ("name = \"b\"\ntarget = \"z80\"\nram = 1\n", "target"),
            ("name = \"b\"\ntarget = \"generic\"\nram = \"12Q\"\n", "ram"),
            ("name = \"b\"\ntarget = \"generic\"\nram = 0\n", "RAM"),
            (
                "name = \"b\"\ntarget = \"generic\"\nram = 1\nrom = 2\n",
                "rom",
            ),
            (
                "name = \"b\"\ntarget = \"generic\"\nram = 1\nemulator = \"x\"\n",
                "emulator",
            ),
        ] {
            let e = Device::from_toml(bad).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }

    #[test]
    fn fit_is_checked_against_both_budgets_with_the_excess() {
        let d = Device::find("stm32f446re").unwrap();
        let ok = Fit {
            arena: 100 * K,
            weights: 400 * K,
            float_weights: 400 * K,
            pair_bytes: 0,
            macs: 1,
        };
        d.check_fit(&ok).unwrap();
        // Arena 125 KiB + 4 KiB stack = 129 KiB: 1 KiB over 128 KiB.
        let ram = Fit {
            arena: 125 * K,
            ..ok
        };
        let e = d.check_fit(&ram).unwrap_err().to_string();
        assert!(
            e.contains("by 1024 B (1.0 KiB)") && e.contains("RAM"),
            "{e}"
        );
        // 1 MiB of f32 weights: over flash; int8 (256 KiB) would fit.
        let flash = Fit {
            weights: M,
            float_weights: M,
            ..ok
        };
        let e = d.check_fit(&flash).unwrap_err().to_string();
        assert!(
            e.contains("flash") && e.contains("by 589824 B (576.0 KiB)"),
            "{e}"
        );
        assert!(
            e.contains("262144 B (256.0 KiB) of weights") && e.contains("which fits"),
            "{e}"
        );
    }
}
