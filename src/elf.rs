//! Just enough of ELF to size a program and list its symbols: the section table and the
//! symbol table, 32- or 64-bit little-endian (Arm, AArch64, x86-64). `kiln verify
//! --device` reports `.text`/`.rodata`/`.data`/`.bss` from it and looks for panic paths,
//! without a binutils for every target.

/// Section bytes by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sizes {
    /// Code (`.text*` and the vector table).
    pub text: u64,
    /// Constants (`.rodata*`, and Arm's unwind index).
    pub rodata: u64,
    /// Initialised RAM (`.data*`), also stored in flash.
    pub data: u64,
    /// Zeroed RAM (`.bss*`).
    pub bss: u64,
}

/// A parsed ELF file's sections and symbols.
pub struct Elf {
    pub sizes: Sizes,
    /// Every named symbol (functions and objects).
    pub symbols: Vec<String>,
}

fn u(b: &[u8], at: usize, n: usize) -> Result<u64, String> {
    let s = b
        .get(at..at + n)
        .ok_or_else(|| format!("truncated ELF (offset {at})"))?;
    let mut v = 0u64;
    for (i, &x) in s.iter().enumerate() {
        v |= u64::from(x) << (8 * i);
    }
    Ok(v)
}

fn cstr(b: &[u8], at: usize) -> String {
    let s = b.get(at..).unwrap_or_default();
    let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
    String::from_utf8_lossy(&s[..end]).into_owned()
}

impl Elf {
    pub fn parse(b: &[u8]) -> Result<Elf, String> {
        if b.get(..4) != Some(b"\x7fELF".as_slice()) {
            return Err("not an ELF file".into());
        }
        if b.get(5) != Some(&1) {
            return Err("not a little-endian ELF file".into());
        }
        let wide = match b.get(4) {
            Some(1) => false,
            Some(2) => true,
            _ => return Err("bad ELF class".into()),
        };
        let w = if wide { 8 } else { 4 };
        let (shoff, shentsize, shnum, shstrndx) = if wide {
            (
                u(b, 0x28, 8)?,
                u(b, 0x3a, 2)?,
                u(b, 0x3c, 2)?,
                u(b, 0x3e, 2)?,
            )
        } else {
            (
                u(b, 0x20, 4)?,
                u(b, 0x2e, 2)?,
                u(b, 0x30, 2)?,
                u(b, 0x32, 2)?,
            )
        };
        // (name offset, type, flags, offset, size, link, entsize)
        let mut sections = Vec::new();
        for i in 0..shnum {
            let h = usize::try_from(shoff + i * shentsize).map_err(|e| e.to_string())?;
            let name = u(b, h, 4)? as usize;
            let ty = u(b, h + 4, 4)?;
            let flags = u(b, h + 8, w)?;
            let (offset, size, link, entsize) = if wide {
                (
                    u(b, h + 0x18, 8)?,
                    u(b, h + 0x20, 8)?,
                    u(b, h + 0x28, 4)?,
                    u(b, h + 0x38, 8)?,
                )
            } else {
                (
                    u(b, h + 0x10, 4)?,
                    u(b, h + 0x14, 4)?,
                    u(b, h + 0x18, 4)?,
                    u(b, h + 0x24, 4)?,
                )
            };
            sections.push((name, ty, flags, offset, size, link, entsize));
        }
        let strtab = sections.get(shstrndx as usize).map_or(0, |s| s.3 as usize);
        let mut sizes = Sizes::default();
        let mut symbols = Vec::new();
        const ALLOC: u64 = 2;
        const SYMTAB: u64 = 2;
        const NOBITS: u64 = 8;
        for &(name, ty, flags, offset, size, link, entsize) in &sections {
            let name = cstr(b, strtab + name);
            if ty == SYMTAB && entsize > 0 {
                let strs = sections.get(link as usize).map_or(0, |s| s.3 as usize);
                for k in 0..size / entsize {
                    let e = (offset + k * entsize) as usize;
                    let sym = cstr(b, strs + u(b, e, 4)? as usize);
                    if !sym.is_empty() {
                        symbols.push(sym);
                    }
                }
            }
            if flags & ALLOC == 0 {
                continue;
            }
            let slot = if ty == NOBITS || name.starts_with(".bss") {
                &mut sizes.bss
            } else if name.starts_with(".text") || name.starts_with(".vector") {
                &mut sizes.text
            } else if name.starts_with(".data") {
                &mut sizes.data
            } else {
                &mut sizes.rodata
            };
            *slot += size;
        }
        Ok(Elf { sizes, symbols })
    }

    /// The symbols of Rust's panic machinery (`core::panicking::*`, the slice index
    /// failures), demangled only as far as recognising them needs.
    pub fn panic_symbols(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .symbols
            .iter()
            .filter(|s| {
                s.contains("panicking")
                    || s.contains("slice_index_fail")
                    || s.contains("slice_end_index_len_fail")
                    || s.contains("slice_start_index_len_fail")
                    || s.contains("panic_bounds_check")
            })
            .cloned()
            .collect();
        v.sort();
        v.dedup();
        v
    }
}
