// A damaged native binary is recognised before it reaches the dynamic loader: a file cut short
// (an interrupted download or copy) makes the loader read past its end, and a read past the end
// of a mapped file kills the process with SIGBUS. What is checked: the file is the executable
// format of this platform, and every part the loader maps or reads (ELF program and section
// headers and segments, PE sections, Mach-O segments) lies inside the file.

/** Why `bytes` cannot be this platform's native library, or null if nothing says so. */
export function damaged(bytes: Uint8Array, platform: NodeJS.Platform): string | null {
  if (platform === 'darwin') return machO(bytes)
  if (platform === 'win32') return pe(bytes)
  return elf(bytes)
}

const inside = (size: number, offset: number, length: number): boolean =>
  Number.isSafeInteger(offset) &&
  Number.isSafeInteger(length) &&
  offset >= 0 &&
  length >= 0 &&
  offset + length <= size

function elf(b: Uint8Array): string | null {
  if (b.length < 64 || b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c || b[3] !== 0x46)
    return 'not an ELF file (invalid ELF header)'
  const is64 = b[4] === 2
  const little = b[5] === 1
  if ((b[4] !== 1 && !is64) || (b[5] !== 1 && b[5] !== 2)) return 'an ELF file of unknown class or byte order'
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const u16 = (at: number): number => dv.getUint16(at, little)
  const u32 = (at: number): number => dv.getUint32(at, little)
  const word = (at: number): number => (is64 ? Number(dv.getBigUint64(at, little)) : u32(at))
  const phoff = word(is64 ? 32 : 28)
  const shoff = word(is64 ? 40 : 32)
  const phentsize = u16(is64 ? 54 : 42)
  const phnum = u16(is64 ? 56 : 44)
  const shentsize = u16(is64 ? 58 : 46)
  const shnum = u16(is64 ? 60 : 48)
  if (!inside(b.length, phoff, phnum * phentsize))
    return 'cut short: its program headers lie past the end (too short)'
  if (shnum !== 0 && !inside(b.length, shoff, shnum * shentsize))
    return 'cut short: its section headers lie past the end (too short)'
  for (let i = 0; i < phnum; i++) {
    const h = phoff + i * phentsize
    if (h + (is64 ? 56 : 32) > b.length) return 'cut short (too short)'
    const offset = is64 ? word(h + 8) : u32(h + 4)
    const filesz = is64 ? word(h + 32) : u32(h + 16)
    if (!inside(b.length, offset, filesz)) return `cut short: segment ${i} lies past the end (too short)`
  }
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * shentsize
    const type = u32(h + 4)
    const offset = is64 ? word(h + 24) : u32(h + 16)
    const size = is64 ? word(h + 32) : u32(h + 20)
    // SHT_NOBITS (8) takes no room in the file.
    if (type !== 8 && type !== 0 && !inside(b.length, offset, size))
      return `cut short: section ${i} lies past the end (too short)`
  }
  return null
}

function pe(b: Uint8Array): string | null {
  if (b.length < 64 || b[0] !== 0x4d || b[1] !== 0x5a) return 'not a Windows DLL (no MZ header)'
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const nt = dv.getUint32(60, true)
  if (!inside(b.length, nt, 24) || dv.getUint32(nt, true) !== 0x4550)
    return 'not a Windows DLL (no PE header)'
  const sections = dv.getUint16(nt + 6, true)
  const optional = dv.getUint16(nt + 20, true)
  const table = nt + 24 + optional
  if (!inside(b.length, table, sections * 40))
    return 'cut short: its section table lies past the end (too short)'
  for (let i = 0; i < sections; i++) {
    const s = table + i * 40
    const size = dv.getUint32(s + 16, true)
    const offset = dv.getUint32(s + 20, true)
    if (size !== 0 && !inside(b.length, offset, size))
      return `cut short: section ${i} lies past the end (too short)`
  }
  return null
}

function machO(b: Uint8Array): string | null {
  if (b.length < 32) return 'not a Mach-O file (too short)'
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const magic = dv.getUint32(0, true)
  if (magic !== 0xfeedfacf && magic !== 0xfeedface) return 'not a Mach-O library (invalid header)'
  const is64 = magic === 0xfeedfacf
  const ncmds = dv.getUint32(16, true)
  const sizeofcmds = dv.getUint32(20, true)
  let at = is64 ? 32 : 28
  if (!inside(b.length, at, sizeofcmds)) return 'cut short: its load commands lie past the end (too short)'
  for (let i = 0; i < ncmds; i++) {
    if (at + 8 > b.length) return 'cut short (too short)'
    const cmd = dv.getUint32(at, true)
    const size = dv.getUint32(at + 4, true)
    if (size < 8) return 'a Mach-O load command of impossible size'
    // LC_SEGMENT_64 (0x19): fileoff at 40, filesize at 48; LC_SEGMENT (0x1): at 32 and 36.
    if (
      cmd === 0x19 &&
      !inside(b.length, Number(dv.getBigUint64(at + 40, true)), Number(dv.getBigUint64(at + 48, true)))
    )
      return `cut short: segment ${i} lies past the end (too short)`
    if (cmd === 0x1 && !inside(b.length, dv.getUint32(at + 32, true), dv.getUint32(at + 36, true)))
      return `cut short: segment ${i} lies past the end (too short)`
    at += size
  }
  return null
}
