/* For tests under wine only, never shipped: wine 8 has no bcryptprimitives.dll, whose
 * ProcessPrng Rust's std calls for random bytes on Windows 10 and later (where the DLL always
 * exists). This stand-in gets the bytes from RtlGenRandom (advapi32's SystemFunction036), which
 * wine has. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
