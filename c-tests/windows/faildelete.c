/* faildelete: DeleteFileW of one file fails, the Windows counterpart of
 * c-tests/host/failunlink.c (Windows has no LD_PRELOAD). Linked into the
 * Windows scenario program, whose import table the library shares (it is
 * linked into the same executable), it replaces the program's import of
 * DeleteFileW at start when the environment sets
 *
 *   FAIL_DELETE=NAME:COUNT:ERROR
 *
 * The first COUNT deletes of a path ending in NAME (after a slash or a
 * backslash) fail with the Windows error ERROR (a number), removing
 * nothing and saying so on stderr; every other delete goes to the system.
 * A program that imports no DeleteFileW exits 2 at start, so that a test
 * that means to fail a delete cannot pass without one.
 *
 * The library first tries a POSIX deletion through the file's handle
 * (FileDispositionInfoEx), which wine 8 refuses (probe.exe says so), and
 * then calls DeleteFileW: the call failed here. Where the POSIX deletion
 * is had, DeleteFileW is not called, and a test that counts on this
 * refusal fails for want of its "refused" line. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

typedef BOOL(WINAPI *delete_fn)(LPCWSTR);

static delete_fn real_delete;
static wchar_t fail_name[256];
static int fail_count;
static DWORD fail_error;
static int failed;

/* Whether PATH ends in a separator and fail_name. */
static int names_the_file(LPCWSTR path) {
  size_t len = wcslen(path), name = wcslen(fail_name);
  if (len <= name || wcscmp(path + len - name, fail_name) != 0) {
    return 0;
  }
  return path[len - name - 1] == L'\\' || path[len - name - 1] == L'/';
}

static BOOL WINAPI failing_delete(LPCWSTR path) {
  if (failed < fail_count && names_the_file(path)) {
    failed++;
    fprintf(stderr, "faildelete: DeleteFileW %ls refused (%d of %d)\n", fail_name, failed,
            fail_count);
    fflush(stderr);
    SetLastError(fail_error);
    return FALSE;
  }
  return real_delete(path);
}

/* The import-table slot of DeleteFileW in the executable, or NULL. */
static ULONG_PTR *delete_slot(void) {
  uint8_t *base = (uint8_t *)GetModuleHandleW(NULL);
  const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)base;
  const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)(base + dos->e_lfanew);
  const IMAGE_DATA_DIRECTORY *imports =
      &nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
  if (imports->VirtualAddress == 0) {
    return NULL;
  }
  const IMAGE_IMPORT_DESCRIPTOR *d =
      (const IMAGE_IMPORT_DESCRIPTOR *)(base + imports->VirtualAddress);
  for (; d->Name != 0; d++) {
    DWORD names_at = d->OriginalFirstThunk != 0 ? d->OriginalFirstThunk : d->FirstThunk;
    const IMAGE_THUNK_DATA *names = (const IMAGE_THUNK_DATA *)(base + names_at);
    IMAGE_THUNK_DATA *slots = (IMAGE_THUNK_DATA *)(base + d->FirstThunk);
    for (; names->u1.AddressOfData != 0; names++, slots++) {
      if (IMAGE_SNAP_BY_ORDINAL(names->u1.Ordinal)) {
        continue;
      }
      const IMAGE_IMPORT_BY_NAME *by = (const IMAGE_IMPORT_BY_NAME *)(base + names->u1.AddressOfData);
      if (strcmp((const char *)by->Name, "DeleteFileW") == 0) {
        return (ULONG_PTR *)&slots->u1.Function;
      }
    }
  }
  return NULL;
}

__attribute__((constructor)) static void install(void) {
  const char *spec = getenv("FAIL_DELETE");
  if (spec == NULL || *spec == '\0') {
    return;
  }
  char name[256];
  unsigned long error = 0;
  if (sscanf(spec, "%255[^:]:%d:%lu", name, &fail_count, &error) != 3) {
    fprintf(stderr, "faildelete: FAIL_DELETE=%s is not NAME:COUNT:ERROR\n", spec);
    exit(2);
  }
  fail_error = (DWORD)error;
  mbstowcs(fail_name, name, sizeof fail_name / sizeof fail_name[0] - 1);
  ULONG_PTR *slot = delete_slot();
  if (slot == NULL) {
    fprintf(stderr, "faildelete: this program imports no DeleteFileW\n");
    exit(2);
  }
  DWORD old;
  if (!VirtualProtect(slot, sizeof *slot, PAGE_READWRITE, &old)) {
    fprintf(stderr, "faildelete: VirtualProtect of the import table: error %lu\n",
            (unsigned long)GetLastError());
    exit(2);
  }
  real_delete = (delete_fn)*slot;
  *slot = (ULONG_PTR)failing_delete;
  VirtualProtect(slot, sizeof *slot, old, &old);
}
