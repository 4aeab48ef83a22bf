/* A stand-in for Windows' bcryptprimitives.dll, which Wine 8 lacks: Rust's std (1.78+) imports
 * ProcessPrng from it for random numbers. Used only by `npm run test:windows` under Wine; real
 * Windows has the DLL. RtlGenRandom is advapi32's SystemFunction036. */
#include <windows.h>

BOOLEAN NTAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
    if (!SystemFunction036(data, n)) return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}
