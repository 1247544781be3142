/*
 * A stand-in for Windows' bcryptprimitives.dll, for the Wine 8 of Debian 12, which lacks it.
 * Rust's standard library (1.78 and later) takes its random numbers from ProcessPrng there, so
 * without this DLL no Rust program starts under that Wine ("bcryptprimitives.dll not found",
 * exit status 53). scripts/test-platforms builds it into its throw-away Wine prefix; it is used
 * only to run the tests and never shipped. Windows 10 and later have the real one.
 */
#include <windows.h>
#include <ntsecapi.h> /* RtlGenRandom (advapi32's SystemFunction036) */

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
