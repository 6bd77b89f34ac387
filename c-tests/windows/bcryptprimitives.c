/* bcryptprimitives: ProcessPrng for a wine without bcryptprimitives.dll
 * (wine 8.0 has none; Windows has had it since Windows 10). Rust's
 * standard library imports ProcessPrng from it for its random numbers
 * (hash map keys), so every program linking liblooms.a does. The suite
 * puts this DLL beside the hosts, where a program's DLLs are looked for
 * first: the system's copy, where there is one, is not used by them.
 * The bytes come from RtlGenRandom (advapi32's SystemFunction036), the
 * generator wine's own bcrypt uses. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  while (length > 0) {
    ULONG chunk = length > 0x40000000u ? 0x40000000u : (ULONG)length;
    if (!SystemFunction036(data, chunk)) {
      return FALSE;
    }
    data += chunk;
    length -= chunk;
  }
  return TRUE;
}
