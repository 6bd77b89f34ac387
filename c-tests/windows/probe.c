/* probe: what the Windows port of the library needs of the platform, each
 * checked on its own, so that a platform (or a wine release) that lacks one
 * says which before a scenario fails for it.
 *
 *   probe.exe DIR      runs every probe with scratch files under DIR
 *   probe.exe lock FILE   (a child of the lock probe) tries to lock FILE
 *   probe.exe dirlock DIR (a child of the directory lock probe) tries to
 *                         open DIR as the library's pier lock does
 *
 * Each probe prints "ok NAME: what was seen" or "FAILED NAME: why"; the
 * exit status is the number of failures. "fact NAME: ..." lines say what
 * the platform does where the port may not rely on it either way. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#define LOOM_BASE 0x28000000000ULL
#define LOOM_BYTES ((size_t)64 << 20)
#define LOOM_PAGE ((size_t)16384)

static int failures;

static void fact(const char *name, const char *format, ...) __attribute__((format(gnu_printf, 2, 3)));
static void fact(const char *name, const char *format, ...) {
  va_list args;
  va_start(args, format);
  printf("fact %s: ", name);
  vprintf(format, args);
  printf("\n");
  va_end(args);
  fflush(stdout);
}

static void result(bool good, const char *name, const char *format, ...)
    __attribute__((format(gnu_printf, 3, 4)));
static void result(bool good, const char *name, const char *format, ...) {
  va_list args;
  va_start(args, format);
  printf("%s %s: ", good ? "ok" : "FAILED", name);
  vprintf(format, args);
  printf("\n");
  va_end(args);
  fflush(stdout);
  failures += !good;
}

/* ---- the loom: a view of a pagefile-backed section, faults by a VEH -------- */

static uint8_t *loom;
/* What the handler saw of the last access violation in the loom. */
static volatile ULONG_PTR seen_kind = 99, seen_addr;
static volatile DWORD seen_thread;
static volatile LONG seen_count;

static LONG CALLBACK on_exception(EXCEPTION_POINTERS *info) {
  EXCEPTION_RECORD *rec = info->ExceptionRecord;
  if (rec->ExceptionCode != EXCEPTION_ACCESS_VIOLATION || rec->NumberParameters < 2) {
    return EXCEPTION_CONTINUE_SEARCH;
  }
  uintptr_t addr = (uintptr_t)rec->ExceptionInformation[1];
  if (addr < LOOM_BASE || addr - LOOM_BASE >= LOOM_BYTES) {
    return EXCEPTION_CONTINUE_SEARCH;
  }
  seen_kind = rec->ExceptionInformation[0];
  seen_addr = addr;
  seen_thread = GetCurrentThreadId();
  InterlockedIncrement(&seen_count);
  DWORD old;
  void *page = (void *)(addr & ~(uintptr_t)(LOOM_PAGE - 1));
  if (!VirtualProtect(page, LOOM_PAGE, PAGE_READWRITE, &old)) {
    return EXCEPTION_CONTINUE_SEARCH;
  }
  return EXCEPTION_CONTINUE_EXECUTION;
}

static void probe_view(void) {
  HANDLE section = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
                                      (DWORD)((uint64_t)LOOM_BYTES >> 32), (DWORD)LOOM_BYTES, NULL);
  if (section == NULL) {
    result(false, "section_view", "CreateFileMappingW: error %lu", GetLastError());
    return;
  }
  loom = MapViewOfFileEx(section, FILE_MAP_ALL_ACCESS, 0, 0, LOOM_BYTES, (void *)LOOM_BASE);
  if (loom != (uint8_t *)LOOM_BASE) {
    result(false, "section_view", "MapViewOfFileEx at 0x%llx: %p, error %lu", LOOM_BASE,
           (void *)loom, GetLastError());
    loom = NULL;
    return;
  }
  bool zero = loom[0] == 0 && loom[LOOM_BYTES - 1] == 0;
  loom[LOOM_BYTES - 1] = 7;
  result(zero && loom[LOOM_BYTES - 1] == 7, "section_view",
         "%zu MiB at 0x%llx, zero-filled, writable", LOOM_BYTES >> 20, LOOM_BASE);
}

/* A store to a read-only loom page reaches the handler as a write at the
 * store's address; returning CONTINUE_EXECUTION runs the store again. */
static void probe_fault(const char *name, size_t page) {
  uint8_t *at = loom + page * LOOM_PAGE + 12;
  DWORD old;
  if (!VirtualProtect(loom + page * LOOM_PAGE, LOOM_PAGE, PAGE_READONLY, &old)) {
    result(false, name, "VirtualProtect: error %lu", GetLastError());
    return;
  }
  LONG before = seen_count;
  uint8_t was = *(volatile uint8_t *)at;
  *(volatile uint8_t *)at = 0x5a;
  bool good = seen_count == before + 1 && seen_kind == 1 && seen_addr == (ULONG_PTR)at &&
              *(volatile uint8_t *)at == 0x5a && was == 0;
  result(good, name, "read without a fault; store: %ld call(s), kind %llu, address %s, store %s",
         seen_count - before, (unsigned long long)seen_kind,
         seen_addr == (ULONG_PTR)at ? "exact" : "WRONG",
         *(volatile uint8_t *)at == 0x5a ? "landed" : "LOST");
}

static DWORD WINAPI fault_thread(void *arg) {
  (void)arg;
  probe_fault("veh_thread_fault", 5);
  return 0;
}

static void probe_thread_fault(void) {
  HANDLE t = CreateThread(NULL, 0, fault_thread, NULL, 0, NULL);
  WaitForSingleObject(t, INFINITE);
  CloseHandle(t);
  result(seen_thread != GetCurrentThreadId(), "veh_on_thread",
         "the handler ran on the faulting thread (%lu), not the main one (%lu)",
         (unsigned long)seen_thread, (unsigned long)GetCurrentThreadId());
}

/* A store to a PAGE_NOACCESS page (the guard) is a write too; a read of it
 * is kind 0. */
static void probe_noaccess(void) {
  size_t page = 9;
  DWORD old;
  VirtualProtect(loom + page * LOOM_PAGE, LOOM_PAGE, PAGE_NOACCESS, &old);
  LONG before = seen_count;
  uint8_t v = *(volatile uint8_t *)(loom + page * LOOM_PAGE);
  bool read_kind = seen_kind == 0;
  VirtualProtect(loom + page * LOOM_PAGE, LOOM_PAGE, PAGE_NOACCESS, &old);
  *(volatile uint8_t *)(loom + page * LOOM_PAGE + 1) = 1;
  result(v == 0 && read_kind && seen_kind == 1 && seen_count == before + 2, "noaccess_kinds",
         "read of a PAGE_NOACCESS page: kind 0; store: kind %llu", (unsigned long long)seen_kind);
}

/* The kernel's own writes into a read-only loom page (ReadFile into it)
 * fail rather than fault into the handler. */
static void probe_readfile_into_protected(const wchar_t *file) {
  HANDLE h = CreateFileW(file, GENERIC_READ | GENERIC_WRITE, 0, NULL, CREATE_ALWAYS,
                         FILE_ATTRIBUTE_NORMAL, NULL);
  static uint8_t page[LOOM_PAGE];
  memset(page, 0x33, sizeof page);
  DWORD n = 0;
  WriteFile(h, page, sizeof page, &n, NULL);
  SetFilePointer(h, 0, NULL, FILE_BEGIN);
  size_t at = 11;
  DWORD old;
  VirtualProtect(loom + at * LOOM_PAGE, LOOM_PAGE, PAGE_READONLY, &old);
  LONG before = seen_count;
  BOOL ok = ReadFile(h, loom + at * LOOM_PAGE, LOOM_PAGE, &n, NULL);
  DWORD err = ok ? 0 : GetLastError();
  CloseHandle(h);
  DeleteFileW(file);
  fact("readfile_into_readonly",
         "ReadFile %s (error %lu, %lu bytes), handler called %ld time(s), page byte 0x%02x",
         ok ? "succeeded" : "failed", (unsigned long)err, (unsigned long)n, seen_count - before,
         loom[at * LOOM_PAGE]);
}

/* ---- escaping from the handler: Rip to a function that longjmps ----------- */

static void *escape_buf[5];
static volatile int escaped;

static void __attribute__((noinline, noreturn)) escape_now(void) { __builtin_longjmp(escape_buf, 1); }

static LONG CALLBACK on_escape(EXCEPTION_POINTERS *info) {
  EXCEPTION_RECORD *rec = info->ExceptionRecord;
  uintptr_t addr = (uintptr_t)rec->ExceptionInformation[1];
  if (rec->ExceptionCode != EXCEPTION_ACCESS_VIOLATION || addr != LOOM_BASE + 20 * LOOM_PAGE) {
    return EXCEPTION_CONTINUE_SEARCH;
  }
  CONTEXT *ctx = info->ContextRecord;
  ctx->Rsp = ((ctx->Rsp - 256) & ~(DWORD64)15) - 8;
  ctx->Rip = (DWORD64)(uintptr_t)escape_now;
  return EXCEPTION_CONTINUE_EXECUTION;
}

static void __attribute__((noinline)) store_guard(void) {
  *(volatile uint32_t *)(loom + 20 * LOOM_PAGE) = 1;
}

static void probe_escape(void) {
  DWORD old;
  VirtualProtect(loom + 20 * LOOM_PAGE, LOOM_PAGE, PAGE_NOACCESS, &old);
  void *h = AddVectoredExceptionHandler(1, on_escape);
  if (__builtin_setjmp(escape_buf) == 0) {
    store_guard();
    escaped = 0;
  } else {
    escaped = 1;
  }
  RemoveVectoredExceptionHandler(h);
  result(escaped == 1, "veh_escape", "a handler that sets Rip to a longjmp left the store");
}

/* ---- files ------------------------------------------------------------------ */

static void probe_files(const wchar_t *dir) {
  wchar_t a[1024], b[1024];
  swprintf(a, 1024, L"%ls\\a.bin", dir);
  swprintf(b, 1024, L"%ls\\b.bin", dir);
  HANDLE h = CreateFileW(a, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ, NULL, CREATE_ALWAYS,
                         FILE_ATTRIBUTE_NORMAL, NULL);
  DWORD n;
  BOOL wrote = WriteFile(h, "abcd", 4, &n, NULL);
  BOOL flushed = FlushFileBuffers(h);
  DWORD flush_err = flushed ? 0 : GetLastError();
  CloseHandle(h);
  result(wrote && flushed, "flush_file_buffers", "FlushFileBuffers %s (error %lu)",
         flushed ? "succeeded" : "failed", (unsigned long)flush_err);

  h = CreateFileW(b, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
  WriteFile(h, "old!!", 5, &n, NULL);
  CloseHandle(h);
  BOOL moved = MoveFileExW(a, b, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH);
  DWORD move_err = moved ? 0 : GetLastError();
  h = CreateFileW(b, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
  char got[8] = {0};
  ReadFile(h, got, sizeof got, &n, NULL);
  CloseHandle(h);
  bool gone = GetFileAttributesW(a) == INVALID_FILE_ATTRIBUTES;
  result(moved && n == 4 && !memcmp(got, "abcd", 4) && gone, "move_file_replace",
         "MoveFileExW(REPLACE_EXISTING | WRITE_THROUGH) %s (error %lu): target holds %lu bytes, "
         "source %s",
         moved ? "succeeded" : "failed", (unsigned long)move_err, (unsigned long)n,
         gone ? "gone" : "STILL THERE");

  /* Flushing a directory: opened with FILE_FLAG_BACKUP_SEMANTICS. */
  h = CreateFileW(dir, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                  OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
  DWORD open_err = h == INVALID_HANDLE_VALUE ? GetLastError() : 0;
  BOOL dflush = h != INVALID_HANDLE_VALUE && FlushFileBuffers(h);
  DWORD dflush_err = dflush ? 0 : GetLastError();
  if (h != INVALID_HANDLE_VALUE) CloseHandle(h);
  fact("flush_directory",
         "a directory opened with BACKUP_SEMANTICS: open %s (error %lu), "
         "FlushFileBuffers %s (error %lu)",
         h != INVALID_HANDLE_VALUE ? "ok" : "failed", (unsigned long)open_err,
         dflush ? "succeeded" : "failed", (unsigned long)dflush_err);

  /* Truncation, as a shrinking image needs. */
  h = CreateFileW(b, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
  LARGE_INTEGER to = {.QuadPart = 2}, size = {.QuadPart = 0};
  BOOL cut = SetFilePointerEx(h, to, NULL, FILE_BEGIN) && SetEndOfFile(h);
  GetFileSizeEx(h, &size);
  CloseHandle(h);
  result(cut && size.QuadPart == 2, "set_end_of_file", "SetEndOfFile cut 4 bytes to %lld",
         (long long)size.QuadPart);
  DeleteFileW(b);
}

/* LockFileEx: an exclusive lock held here refuses another handle of this
 * process and a second process; released, the second process gets it. */
static int child_lock(const wchar_t *file) {
  HANDLE h = CreateFileW(file, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                         NULL, OPEN_EXISTING, 0, NULL);
  OVERLAPPED ov = {0};
  BOOL got = LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov);
  DWORD err = got ? 0 : GetLastError();
  printf("%s %lu\n", got ? "locked" : "refused", (unsigned long)err);
  fflush(stdout);
  return got ? 0 : 1;
}

/* Runs this program as `probe MODE PATH` and returns its exit status. */
static int run_child(const wchar_t *mode, const wchar_t *file, DWORD *err_out) {
  wchar_t self[1024], cmd[2200];
  GetModuleFileNameW(NULL, self, 1024);
  swprintf(cmd, 2200, L"\"%ls\" %ls \"%ls\"", self, mode, file);
  STARTUPINFOW si = {.cb = sizeof si};
  PROCESS_INFORMATION pi;
  if (!CreateProcessW(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) {
    *err_out = GetLastError();
    return -1;
  }
  WaitForSingleObject(pi.hProcess, INFINITE);
  DWORD code = 99;
  GetExitCodeProcess(pi.hProcess, &code);
  CloseHandle(pi.hProcess);
  CloseHandle(pi.hThread);
  return (int)code;
}

static void probe_lock(const wchar_t *dir) {
  wchar_t file[1024];
  swprintf(file, 1024, L"%ls\\lock", dir);
  HANDLE h = CreateFileW(file, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                         NULL, CREATE_ALWAYS, 0, NULL);
  OVERLAPPED ov = {0};
  BOOL got = LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov);
  HANDLE h2 = CreateFileW(file, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                          NULL, OPEN_EXISTING, 0, NULL);
  OVERLAPPED ov2 = {0};
  BOOL got2 = LockFileEx(h2, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov2);
  DWORD err2 = got2 ? 0 : GetLastError();
  DWORD spawn_err = 0;
  int held = run_child(L"lock", file, &spawn_err);
  UnlockFileEx(h, 0, 1, 0, &ov);
  int freed = run_child(L"lock", file, &spawn_err);
  CloseHandle(h2);
  CloseHandle(h);
  DeleteFileW(file);
  result(got && !got2 && err2 == ERROR_LOCK_VIOLATION && held == 1 && freed == 0, "lock_file_ex",
         "held: another handle refused (error %lu), another process %s; released: another "
         "process %s",
         (unsigned long)err2, held == 1 ? "refused" : "NOT REFUSED",
         freed == 0 ? "locks it" : "CANNOT LOCK");
}

/* The library's pier lock: `.urb/chk` opened with the right to delete it,
 * that right shared with no other open. Opens the directory DIR so. */
static HANDLE open_dir_locked(const wchar_t *dir) {
  return CreateFileW(dir, GENERIC_READ | DELETE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                     OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
}

static int child_dir_lock(const wchar_t *dir) {
  HANDLE h = open_dir_locked(dir);
  DWORD err = h == INVALID_HANDLE_VALUE ? GetLastError() : 0;
  printf("%s %lu\n", h != INVALID_HANDLE_VALUE ? "opened" : "refused", (unsigned long)err);
  fflush(stdout);
  return h != INVALID_HANDLE_VALUE ? 0 : err == ERROR_SHARING_VIOLATION ? 1 : 2;
}

/* While one process holds a directory so, a second process's open of it
 * so is refused with ERROR_SHARING_VIOLATION, while a file in it can be
 * created and opened; once closed, the second process opens it. */
static void probe_dir_lock(const wchar_t *dir) {
  wchar_t sub[1024], file[1100];
  swprintf(sub, 1024, L"%ls\\chk", dir);
  swprintf(file, 1100, L"%ls\\image.bin", sub);
  CreateDirectoryW(sub, NULL);
  HANDLE h = open_dir_locked(sub);
  DWORD spawn_err = 0;
  int held = run_child(L"dirlock", sub, &spawn_err);
  HANDLE f = CreateFileW(file, GENERIC_READ | GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
  bool files = f != INVALID_HANDLE_VALUE;
  if (files) CloseHandle(f);
  if (h != INVALID_HANDLE_VALUE) CloseHandle(h);
  int freed = run_child(L"dirlock", sub, &spawn_err);
  DeleteFileW(file);
  RemoveDirectoryW(sub);
  result(h != INVALID_HANDLE_VALUE && held == 1 && files && freed == 0, "dir_share_lock",
         "held: another process's open %s, a file in it %s; closed: another process %s",
         held == 1 ? "refused (sharing violation)" : "NOT REFUSED",
         files ? "created" : "NOT CREATED", freed == 0 ? "opens it" : "CANNOT OPEN IT");
}

/* Whether a file can be deleted with POSIX semantics through its handle
 * (FileDispositionInfoEx), which the library tries before DeleteFileW. */
static void fact_posix_delete(const wchar_t *dir) {
  wchar_t file[1024];
  swprintf(file, 1024, L"%ls\\posix", dir);
  HANDLE h = CreateFileW(file, GENERIC_WRITE | DELETE, FILE_SHARE_READ | FILE_SHARE_DELETE, NULL,
                         CREATE_ALWAYS, 0, NULL);
  struct {
    ULONG flags;
  } info = {0x1 | 0x2}; /* FILE_DISPOSITION_FLAG_DELETE | _POSIX_SEMANTICS */
  BOOL done = SetFileInformationByHandle(h, (FILE_INFO_BY_HANDLE_CLASS)21, &info, sizeof info);
  DWORD err = done ? 0 : GetLastError();
  bool gone = GetFileAttributesW(file) == INVALID_FILE_ATTRIBUTES;
  CloseHandle(h);
  DeleteFileW(file);
  fact("posix_delete", "FileDispositionInfoEx with POSIX semantics: %s (error %lu), the name %s while open",
       done ? "done" : "refused", (unsigned long)err, gone ? "gone" : "still there");
}

/* Handles of this process, counted by asking for each handle value's flags
 * (GetProcessHandleCount answers 0 under wine). */
static DWORD count_handles(void) {
  DWORD n = 0, flags;
  for (uintptr_t v = 4; v < 4 * 4096; v += 4) {
    n += GetHandleInformation((HANDLE)v, &flags) != 0;
  }
  return n;
}

/* Counting handles sees one more while a file is open (what the scenarios'
 * leak check on u3e_backup reads). */
static void probe_handle_count(const wchar_t *dir) {
  wchar_t file[1024];
  swprintf(file, 1024, L"%ls\\count", dir);
  DWORD before = count_handles();
  HANDLE h = CreateFileW(file, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_FLAG_DELETE_ON_CLOSE, NULL);
  DWORD during = count_handles();
  CloseHandle(h);
  DWORD after = count_handles();
  DWORD reported = 0;
  GetProcessHandleCount(GetCurrentProcess(), &reported);
  result(before > 0 && during == before + 1 && after == before, "handle_count",
         "%lu handles, %lu with a file open, %lu after it is closed", (unsigned long)before,
         (unsigned long)during, (unsigned long)after);
  fact("process_handle_count", "GetProcessHandleCount says %lu", (unsigned long)reported);
}

/* ---- WaitOnAddress ------------------------------------------------------------- */

static volatile LONG wake_word;

static DWORD WINAPI waker(void *arg) {
  (void)arg;
  Sleep(50);
  InterlockedExchange(&wake_word, 1);
  WakeByAddressSingle((void *)&wake_word);
  return 0;
}

static void probe_wait_on_address(void) {
  HMODULE base = GetModuleHandleW(L"kernelbase.dll");
  FARPROC in_base = base ? GetProcAddress(base, "WaitOnAddress") : NULL;
  HANDLE t = CreateThread(NULL, 0, waker, NULL, 0, NULL);
  LONG zero = 0;
  DWORD start = GetTickCount();
  while (wake_word == 0) {
    if (!WaitOnAddress(&wake_word, &zero, sizeof zero, 5000)) break;
  }
  DWORD took = GetTickCount() - start;
  WaitForSingleObject(t, INFINITE);
  CloseHandle(t);
  result(wake_word == 1 && took < 5000, "wait_on_address",
         "WaitOnAddress/WakeByAddressSingle (api-ms-win-core-synch-l1-2-0) woke a waiter; "
         "kernelbase exports it: %s",
         in_base ? "yes" : "no");
}

/* Whether the system has ProcessPrng (bcryptprimitives.dll, which Rust's
 * standard library imports): wine 8.0 has not; the hosts carry their own
 * beside them (bcryptprimitives.c). */
static void fact_prng(void) {
  HMODULE dll = LoadLibraryExW(L"bcryptprimitives.dll", NULL, LOAD_LIBRARY_SEARCH_SYSTEM32);
  FARPROC prng = dll != NULL ? GetProcAddress(dll, "ProcessPrng") : NULL;
  fact("process_prng", "the system's bcryptprimitives.dll: %s",
       dll == NULL ? "none" : prng == NULL ? "without ProcessPrng" : "has ProcessPrng");
}

/* ---- the system ---------------------------------------------------------------- */

static void probe_system(void) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  result(si.dwPageSize == 4096 && si.dwAllocationGranularity == 65536, "system_info",
         "page %lu bytes, allocation granularity %lu", (unsigned long)si.dwPageSize,
         (unsigned long)si.dwAllocationGranularity);
}

/* A second, larger section: the runtime's 2 GiB loom and more need only
 * the address range (pages are committed on first touch). */
static void probe_big_section(void) {
  uint64_t bytes = (uint64_t)8 << 30;
  HANDLE s = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, (DWORD)(bytes >> 32),
                                (DWORD)bytes, NULL);
  DWORD err = s ? 0 : GetLastError();
  uint8_t *at = s ? MapViewOfFileEx(s, FILE_MAP_ALL_ACCESS, 0, 0, bytes,
                                    (void *)(LOOM_BASE + ((uint64_t)1 << 36)))
                  : NULL;
  if (at != NULL) {
    at[bytes - 1] = 1;
    UnmapViewOfFile(at);
  }
  if (s) CloseHandle(s);
  result(at != NULL, "big_section", "an 8 GiB section view at a fixed address: %s (error %lu)",
         at ? "mapped, last byte writable" : "refused", (unsigned long)(at ? 0 : err ? err : GetLastError()));
}

int wmain(int argc, wchar_t **argv) {
  if (argc == 3 && !wcscmp(argv[1], L"lock")) {
    return child_lock(argv[2]);
  }
  if (argc == 3 && !wcscmp(argv[1], L"dirlock")) {
    return child_dir_lock(argv[2]);
  }
  if (argc != 2) {
    fprintf(stderr, "usage: probe DIR\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IONBF, 0);
  wchar_t full[1024];
  GetFullPathNameW(argv[1], 1024, full, NULL);
  printf("dir: %ls\n", full);
  CreateDirectoryW(full, NULL);
  probe_system();
  AddVectoredExceptionHandler(1, on_exception);
  probe_view();
  if (loom != NULL) {
    probe_fault("veh_write_fault", 3);
    probe_thread_fault();
    probe_noaccess();
    wchar_t f[1100];
    swprintf(f, 1100, L"%ls\\readfile", full);
    probe_readfile_into_protected(f);
    probe_escape();
  }
  probe_files(full);
  probe_lock(full);
  probe_dir_lock(full);
  probe_handle_count(full);
  fact_posix_delete(full);
  probe_wait_on_address();
  probe_big_section();
  fact_prng();
  return failures;
}
