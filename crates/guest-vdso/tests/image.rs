//! The embedded image is a vDSO that glibc's and musl's loaders accept: a
//! position-independent shared object with versioned exports, both hash
//! tables, and nothing that needs a dynamic loader.

mod common;

use common::{ALIASES, EXPORTS, header};
use guest_vdso::VDSO_IMAGE;
use object::SymbolIndex;
use object::elf;
use object::read::elf::{Dyn, FileHeader, HashTable, ProgramHeader, SectionHeader, Sym};

#[test]
fn is_an_x86_64_shared_object() {
    let (header, endian) = header();
    assert_eq!(header.e_type(endian), elf::ET_DYN);
    assert_eq!(header.e_machine(endian), elf::EM_X86_64);
    assert_eq!(VDSO_IMAGE.len() % 4096, 0);
}

#[test]
fn one_read_execute_segment_at_zero() {
    let (header, endian) = header();
    let segments = header.program_headers(endian, VDSO_IMAGE).unwrap();
    let loads: Vec<_> = segments
        .iter()
        .filter(|p| p.p_type(endian) == elf::PT_LOAD)
        .collect();
    assert_eq!(loads.len(), 1, "one PT_LOAD");
    let load = loads[0];
    assert_eq!(load.p_offset(endian), 0);
    assert_eq!(load.p_vaddr(endian), 0);
    assert_eq!(load.p_filesz(endian), load.p_memsz(endian), "no bss");
    assert!(load.p_filesz(endian) as usize <= VDSO_IMAGE.len());
    assert_eq!(load.p_flags(endian), elf::PF_R | elf::PF_X);
    let types: Vec<_> = segments.iter().map(|p| p.p_type(endian)).collect();
    assert!(types.contains(&elf::PT_DYNAMIC));
    for unwanted in [elf::PT_INTERP, elf::PT_TLS, elf::PT_GNU_RELRO] {
        assert!(!types.contains(&unwanted), "{unwanted:?}");
    }
}

/// The dynamic entries, read through PT_DYNAMIC as a loader reads them.
fn dynamic() -> Vec<(elf::DynamicTag, u64)> {
    let (header, endian) = header();
    let segments = header.program_headers(endian, VDSO_IMAGE).unwrap();
    let entries = segments
        .iter()
        .find_map(|p| p.dynamic(endian, VDSO_IMAGE).unwrap())
        .expect("PT_DYNAMIC");
    entries
        .iter()
        .map(|d| (d.d_tag(endian), d.d_val(endian)))
        .take_while(|&(tag, _)| tag != elf::DT_NULL)
        .collect()
}

fn dynamic_value(tag: elf::DynamicTag) -> Option<u64> {
    dynamic()
        .into_iter()
        .find(|&(t, _)| t == tag)
        .map(|(_, v)| v)
}

fn section_address(name: &str) -> u64 {
    let (header, endian) = header();
    let sections = header.sections(endian, VDSO_IMAGE).unwrap();
    let section = sections
        .iter()
        .find(|s| sections.section_name(endian, s).unwrap() == name.as_bytes())
        .unwrap_or_else(|| panic!("no section {name}"));
    section.sh_addr(endian)
}

fn c_string(offset: u64) -> &'static [u8] {
    let bytes = &VDSO_IMAGE[offset as usize..];
    &bytes[..bytes.iter().position(|&b| b == 0).unwrap()]
}

#[test]
fn dynamic_section_has_both_hashes_versions_and_soname() {
    // The address of each table is its file offset: one segment at 0.
    for (tag, section) in [
        (elf::DT_HASH, ".hash"),
        (elf::DT_GNU_HASH, ".gnu.hash"),
        (elf::DT_SYMTAB, ".dynsym"),
        (elf::DT_STRTAB, ".dynstr"),
        (elf::DT_VERSYM, ".gnu.version"),
        (elf::DT_VERDEF, ".gnu.version_d"),
    ] {
        assert_eq!(
            dynamic_value(tag),
            Some(section_address(section)),
            "{section}"
        );
    }
    let strtab = dynamic_value(elf::DT_STRTAB).unwrap();
    let soname = dynamic_value(elf::DT_SONAME).expect("DT_SONAME");
    assert_eq!(c_string(strtab + soname), b"linux-vdso.so.1");
}

#[test]
fn needs_no_loader() {
    for tag in [
        elf::DT_NEEDED,
        elf::DT_REL,
        elf::DT_RELA,
        elf::DT_RELR,
        elf::DT_JMPREL,
        elf::DT_TEXTREL,
        elf::DT_PLTGOT,
        elf::DT_INIT,
        elf::DT_FINI,
        elf::DT_INIT_ARRAY,
        elf::DT_FINI_ARRAY,
        elf::DT_VERNEED,
    ] {
        assert_eq!(dynamic_value(tag), None, "{tag:?}");
    }
    let flags = dynamic_value(elf::DT_FLAGS).unwrap_or(0);
    assert_eq!(flags & elf::DF_TEXTREL.0, 0);

    let (header, endian) = header();
    let sections = header.sections(endian, VDSO_IMAGE).unwrap();
    for section in sections.iter() {
        let name = sections.section_name(endian, section).unwrap();
        let kind = section.sh_type(endian);
        assert!(
            ![elf::SHT_REL, elf::SHT_RELA, elf::SHT_RELR].contains(&kind),
            "relocation section {}",
            String::from_utf8_lossy(name)
        );
        for unwanted in [".got", ".got.plt", ".plt", ".data", ".bss"] {
            assert_ne!(name, unwanted.as_bytes());
        }
    }
}

#[test]
fn exports_are_versioned_functions_and_nothing_else() {
    let (header, endian) = header();
    let sections = header.sections(endian, VDSO_IMAGE).unwrap();
    let symbols = sections
        .symbols(endian, VDSO_IMAGE, elf::SHT_DYNSYM)
        .unwrap();
    let versions = sections.versions(endian, VDSO_IMAGE).unwrap().unwrap();
    let text = section_address(".text");

    let mut exported = Vec::new();
    for (index, symbol) in symbols.iter().enumerate().skip(1) {
        let name =
            String::from_utf8(symbols.symbol_name(endian, symbol).unwrap().to_vec()).unwrap();
        let versym = versions.version_index(endian, SymbolIndex(index));
        let version = versions.version(versym.index()).unwrap().map(|v| v.name());
        assert_eq!(version, Some(&b"LINUX_2.6"[..]), "{name}");
        assert!(!versym.is_hidden(), "{name} is a hidden version");
        if symbol.st_type() == elf::STT_OBJECT && symbol.st_shndx(endian) == elf::SHN_ABS {
            // The version's own marker symbol.
            assert_eq!(name, "LINUX_2.6");
            continue;
        }
        assert_eq!(symbol.st_type(), elf::STT_FUNC, "{name}");
        assert_eq!(symbol.st_visibility(), elf::STV_DEFAULT, "{name}");
        assert_ne!(symbol.st_shndx(endian), elf::SHN_UNDEF, "{name}");
        assert!(symbol.st_value(endian) >= text, "{name} outside .text");
        assert!(symbol.st_size(endian) > 0, "{name}");
        exported.push((name, symbol.st_bind(), symbol.st_value(endian)));
    }
    exported.sort();
    let mut expected: Vec<_> = EXPORTS
        .iter()
        .chain(&ALIASES)
        .map(|s| s.to_string())
        .collect();
    expected.sort();
    let names: Vec<_> = exported.iter().map(|(n, _, _)| n.clone()).collect();
    assert_eq!(names, expected, "exactly the vDSO's functions are exported");

    let find = |name: &str| exported.iter().find(|(n, _, _)| n == name).unwrap();
    for (export, alias) in EXPORTS.iter().zip(ALIASES) {
        let (_, bind, value) = find(export);
        assert_eq!(*bind, elf::STB_GLOBAL, "{export}");
        let (_, alias_bind, alias_value) = find(alias);
        assert_eq!(*alias_bind, elf::STB_WEAK, "{alias}");
        assert_eq!(alias_value, value, "{alias} aliases {export}");
    }
}

#[test]
fn version_definitions_name_the_library_and_linux_2_6() {
    let (header, endian) = header();
    let sections = header.sections(endian, VDSO_IMAGE).unwrap();
    let (mut verdefs, link) = sections.gnu_verdef(endian, VDSO_IMAGE).unwrap().unwrap();
    let strings = sections.strings(endian, VDSO_IMAGE, link).unwrap();
    let mut found = Vec::new();
    while let Some((verdef, mut aux)) = verdefs.next().unwrap() {
        let name = aux.next().unwrap().unwrap().name(endian, strings).unwrap();
        found.push((verdef.vd_flags.get(endian), name.to_vec()));
    }
    assert_eq!(
        found,
        [
            (elf::VER_FLG_BASE, b"linux-vdso.so.1".to_vec()),
            (elf::VersionFlags(0), b"LINUX_2.6".to_vec()),
        ]
    );
}

/// musl finds vDSO functions through DT_HASH alone (and glibc through
/// DT_GNU_HASH, which `common::symbol` uses): both tables must find every
/// export at its version.
#[test]
fn both_hash_tables_find_every_export() {
    let (header, endian) = header();
    let sections = header.sections(endian, VDSO_IMAGE).unwrap();
    let symbols = sections
        .symbols(endian, VDSO_IMAGE, elf::SHT_DYNSYM)
        .unwrap();
    let versions = sections.versions(endian, VDSO_IMAGE).unwrap().unwrap();
    let version = versions
        .version(elf::VersionIndex(2))
        .unwrap()
        .expect("version 2");
    assert_eq!(version.name(), b"LINUX_2.6");
    let hash_offset = dynamic_value(elf::DT_HASH).unwrap() as usize;
    let hash = HashTable::<common::Header>::parse(endian, &VDSO_IMAGE[hash_offset..]).unwrap();
    assert_eq!(hash.symbol_table_length() as usize, symbols.len());
    for name in EXPORTS.iter().chain(&ALIASES) {
        let (_, symbol) = hash
            .find(
                endian,
                name.as_bytes(),
                elf::hash(name.as_bytes()),
                Some(version),
                &symbols,
                &versions,
            )
            .unwrap_or_else(|| panic!("DT_HASH does not find {name}"));
        assert_eq!(symbol.st_value(endian), common::symbol(name), "{name}");
    }
}
