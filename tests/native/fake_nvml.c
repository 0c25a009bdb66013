/*
 * A stand-in for libnvidia-ml.so.1, loaded by the tests through the agent's real P/Invoke path.
 * It exports the real symbol names with the real signatures (NVML 13.3 header, reference nvml.md) and
 * simulates `gpus` GPUs (default 2) with values derived from the device index i, so tests can compute the
 * expected metrics independently. Built with: gcc -shared -fPIC -O2 -pthread -Wall -Wextra -Werror; also with
 * -DNO_MEMORY_V2 to play a pre-R510 driver without nvmlDeviceGetMemoryInfo_v2 (a missing optional symbol), and
 * with -DNO_GPM to play a driver without the GPM API (no nvmlGpm* symbol is exported).
 * Every call may come from several threads at once: the shared state is behind one mutex, and blocking calls
 * (PCIe throughput, hang, event wait) sleep without holding it.
 *
 * Values (GPU handle of index i):
 *   name "NVIDIA H100 80GB HBM3", uuid "GPU-00000000-0000-0000-0000-%012u" (i), serial "1654322%06u" (i),
 *   vbios "96.00.74.00.01", CUDA compute capability 9.0, driver version "580.159.04" (nvmlSystemGetDriverVersion;
 *   INSUFFICIENT_SIZE 7 for a buffer under 11 bytes, as for every string)
 *   PCI (nvmlDeviceGetPciInfo_v3): bus 0x17+i, busId "00000000:%02X:00.0", busIdLegacy "0000:%02X:00.0", domain 0,
 *   device 0, pciDeviceId 0x233010DE, pciSubSystemId 0x16C110DE
 *   utilization gpu 10*(i+1) %, memory 5*(i+1) %; encoder 2*i %, decoder 3*i %, sampling period 100000 us
 *   memory total 85520809984, reserved 503316480, used (v2) (i+1) GiB, free = total - reserved - used;
 *   v1: used = v2 used + reserved, same free; a wrong nvmlMemory_v2 version returns 13 (as on driver 580)
 *   temperature 40+i C (sensor 0 only, else 2); thresholds shutdown (0) 95, slowdown (1) 89, others 3
 *   power 100000+1000*i mW, enforced power limit 700000 mW, energy 1000000*(i+1) mJ, fan NOT_SUPPORTED (3)
 *   clocks (MHz) current graphics/SM 1755+i, memory 2619, video 1500; max 1980/1980/2619/1710; types > 3 → 2
 *   P-state 0; clock event reasons 0x4 (SW power cap) on GPU 0, 0x1 (idle) on the others
 *   ECC corrected volatile i, corrected aggregate 10+i, uncorrected 0; remapped rows correctable i, others 0; ECC mode enabled (current and pending)
 *   PCIe current gen 5 width 16, max gen 5 width 16, replays 3*i;
 *   PCIe throughput (blocks 20 ms like the real call): counter 0 (TX) 1000*(i+1) KB/s, 1 (RX) 2000*(i+1), other → 2
 *   retired pages: GPU 0 → NOT_SUPPORTED (3) for nvmlDeviceGetRetiredPages and ...PendingStatus (like an H100);
 *     GPU i>=1: cause 0 (multiple single-bit) i pages, cause 1 (double-bit) 0 pages, other cause → 2; page k's
 *     address is (i << 32) | 0x1000*(k+1); *count below the number of pages (e.g. 0 with NULL) → 7 with *count set,
 *     nothing written; 0 pages → SUCCESS, *count 0. Pending: 1 on GPU 1, 0 on the others.
 *   field values (nvmlDeviceGetFieldValues returns SUCCESS; per entry it writes timestamp = now (us since 1970),
 *     latencyUsec 0, valueType, nvmlReturn and value; valueType 1 = uint, 3 = unsigned long long):
 *     82 MEMORY_TEMP uint 50+i;  230 GET_GPU_RECOVERY_ACTION uint `recovery`;
 *     NVLink fields, N = `nvlinks` (when N = 0 each of them answers NOT_SUPPORTED (3), like a PCIe H100):
 *       91 NVLINK_LINK_COUNT uint N;
 *       165 NVLINK_GET_STATE with scopeId = link: uint 1 (active), but 0 for link 3 of GPU 1; link >= N → return 2;
 *       138 / 139 NVLINK_THROUGHPUT_DATA_TX / RX with scopeId 0xFFFFFFFF: ull KiB TX 1000*(i+1), RX 2000*(i+1);
 *         any other scopeId → return 2 (per-link throughput is not modelled);
 *       38 CRC-flit total ull i, 45 CRC-data total ull 0, 52 replay total ull 2*i, 59 recovery total ull 0;
 *     147 NVSWITCH_CONNECTED_LINK_COUNT: never written (the driver-580 quirk: nvmlReturn and timestamp stay as the
 *       caller left them); any other id → entry nvmlReturn 2, valueType 0, value 0.
 *   compute processes (nvmlDeviceGetComputeRunningProcesses_v3): GPU i has i+1 processes (`processes` overrides
 *     GPU 0's count, at most 256); process k: pid 1000*(i+1)+k, usedGpuMemory (k+1)*256 MiB in bytes,
 *     gpuInstanceId/computeInstanceId 0xFFFFFFFF, or on the MIG GPU gi 1+(k%2), ci 0 (a MIG handle lists only the
 *     processes of its own gpu instance). Entries are 24 bytes (padding zeroed), or 32 with `process_stride`=32
 *     (R535.43-535.86: ulong usedGpuCcProtectedMemory = 0 at offset 24). *count below the number of processes
 *     (count 0 with NULL too) → *count set, NOTHING written, 7; otherwise entries written, *count set, 0.
 *   process utilization (nvmlDeviceGetProcessUtilization): samples NULL or *count < max(72, processes) → *count
 *     = max(72, processes), 7 (72 is the H100's sample buffer). Otherwise one sample per process k (same pids as
 *     above) with timeStamp now (us since 1970), smUtil 10*(k+1), memUtil 5*(k+1), enc/dec 0, only when
 *     timeStamp > lastSeenTimeStamp; *count = samples written, 0; no sample → *count 0, NOT_FOUND (6).
 *   MIG: GPU `mig` (default -1: none) is in MIG mode: nvmlDeviceGetMigMode 1/1 there, 0/0 elsewhere;
 *     nvmlDeviceGetMaxMigDeviceCount 7 there, 0 elsewhere; nvmlDeviceGetMigDeviceHandleByIndex: slots 0 and 1 hold
 *     MIG devices with gpu instance 1 and 2, compute instance 0; other slots and non-MIG GPUs → NOT_FOUND (6).
 *     MIG handles are distinct pointers from GPU handles. On a MIG handle: GpuInstanceId / ComputeInstanceId
 *     its ids (on a GPU handle → 2), uuid "MIG-00000000-0000-0000-0000-%012u" (gi), memory total gi*10 GiB, used gi
 *     GiB, reserved 0, free total - used (v1 and v2), nvmlDeviceIsMigDeviceHandle 1,
 *     nvmlDeviceGetDeviceHandleFromMigDeviceHandle the parent; other calls answer as the parent GPU. Once the parent
 *     leaves MIG mode its MIG handles answer 2. On the MIG GPU and its MIG handles, utilization rates,
 *     encoder/decoder utilization, remapped rows and process utilization are NOT_SUPPORTED (3).
 *   events: every device supports 0x8 (XID), 0x1 and 0x2; waits poll in 10 ms steps up to the timeout. XID events
 *     are queued (up to 64) and delivered, oldest first, once 0x8 is registered, on device `xid_gpu` (default 0).
 *   GPM (not in a -DNO_GPM build; layouts from the reference's GPM addendum, checked with _Static_assert):
 *     nvmlGpmQueryDeviceSupport: version != 1 → ARGUMENT_VERSION_MISMATCH (25); isSupportedDevice 1, but 0 on GPU
 *       `gpm_unsupported` (a pre-Hopper board). A MIG handle answers as its parent.
 *     nvmlGpmSampleAlloc: a calloc'ed opaque sample (1 before nvmlInit_v2, 2 on NULL); nvmlGpmSampleFree frees it
 *       (2 on NULL or on something that is not a live sample).
 *     nvmlGpmSampleGet(gpu, sample): records the GPU index, gpu instance none, the GPU's next sample sequence number
 *       (per GPU, shared with its MIG samples, strictly increasing) and the time. Device checks as every device call
 *       (uninitialized 1, mismatch 18, hang, lost 15); a MIG handle or a bad sample → 2; GPU `gpm_unsupported` → 3.
 *     nvmlGpmMigSampleGet(gpu, gi, sample): the same for gpu instance gi of the parent GPU handle; GPU
 *       `gpm_unsupported` or a GPU not in MIG mode → 3; gi other than 1 or 2 (the two MIG instances) → 2.
 *     nvmlGpmMetricsGet: NULL → 2; version != 1 → 25; numMetrics > 333 (NVML_GPM_METRIC_MAX) → 2; sample1/sample2
 *       NULL, not live, never taken, of different GPUs or instances, or sample2 not taken after sample1 → 2; then
 *       the device checks of the samples' GPU (1, 18, hang, 15). Otherwise SUCCESS, and for each of the numMetrics
 *       entries: nvmlReturn, value, and shortName/longName/unit pointing at this library's static strings (never
 *       free them). Value = base + k, with k = the GPU index i for whole-GPU samples or 10 * gi for MIG samples:
 *         1 GRAPHICS_UTIL 50, 2 SM_UTIL 40, 3 SM_OCCUPANCY 10, 4 INTEGER_UTIL 1, 5 ANY_TENSOR_UTIL 30,
 *         10 DRAM_BW_UTIL 20, 11 FP64_UTIL 2, 12 FP32_UTIL 3, 13 FP16_UTIL 4 (all %),
 *         20 PCIE_TX_PER_SEC 100, 21 PCIE_RX_PER_SEC 200,
 *         60 NVLINK_TOTAL_RX_PER_SEC 300, 61 NVLINK_TOTAL_TX_PER_SEC 400 (all MiB/s)
 *       (so GPU 1's graphics is 51, gpu instance 2's is 70). Metric `gpm_bad_metric` → that entry's nvmlReturn
 *       NOT_SUPPORTED (3), value 0 (names still set); any other id → entry nvmlReturn 2, value 0, names NULL. Values
 *       do not depend on the interval between the samples.
 *     fake_nvml_gpm_samples() (exported, also in -DNO_GPM builds) returns how many nvmlGpmSampleGet +
 *       nvmlGpmMigSampleGet calls were made so far, whatever they returned (fake_nvml_reset does not clear it).
 *
 * Control keys (value = an int). Precedence: fake_nvml_set(key, value) > control file > FAKE_NVML_<KEY> env
 * (e.g. FAKE_NVML_GPUS, FAKE_NVML_LOST, FAKE_NVML_PROCESS_STRIDE) > default.
 *   gpus (2, at most 64)   number of GPUs
 *   lost (-1)              device i answers GPU_IS_LOST (15) to every call
 *   mismatch (0)           1: nvmlInit_v2, nvmlDeviceGetCount_v2, nvmlSystemGetDriverVersion, every device call and
 *                          nvmlEventSetWait_v2 return LIB_RM_VERSION_MISMATCH (18); the init reference count is kept
 *                          (nvmlShutdown still decrements it), so after mismatch=0 nvmlInit_v2 works again
 *   hang (-1)              every call on device i (its GPU handle or its MIG handles; not nvmlDeviceGetCount_v2 or
 *                          nvmlDeviceGetHandleByIndex_v2) blocks, re-checking every 10 ms, until hang names another
 *                          device; then it proceeds normally
 *   processes (-1)         the number of processes on GPU 0 (-1: the default 1)
 *   process_stride (24)    32: process entries in the R535.43-535.86 32-byte layout
 *   mig (-1)               the GPU in MIG mode
 *   nvlinks (4)            NVLink links per GPU (0: NVLink fields NOT_SUPPORTED)
 *   recovery (0)           field 230's value on every GPU
 *   gpm_unsupported (-1)   the GPU without GPM (isSupportedDevice 0, samples NOT_SUPPORTED)
 *   gpm_bad_metric (-1)    a GPM metric id whose entry answers NOT_SUPPORTED (3) with value 0
 *   no_uuid (-1)           device i answers UNKNOWN (999) to nvmlDeviceGetUUID (it cannot be identified)
 *   no_handle (-1)         nvmlDeviceGetHandleByIndex_v2 answers NO_PERMISSION (4) for index i
 *   xid (-1), xid_gpu (0)  XID events: FAKE_NVML_XID=<code> queues one event at the first nvmlDeviceRegisterEvents
 *                          (delivered on the xid_gpu in force at delivery); fake_nvml_set("xid", code) or
 *                          fake_nvml_set_event("xid", code) queues one more (a negative code empties the queue);
 *                          each time the control file is re-read and contains an xid line, one event is queued with
 *                          that code on the file's effective xid_gpu (write the file atomically, e.g. rename).
 * Control file: FAKE_NVML_CONTROL=<path> names a file of key=value lines (blank lines and # comments ignored,
 * unknown keys ignored); it is stat()ed on every call and re-read when its mtime, size or inode changes; a
 * missing file contributes nothing. Tests in the same process cannot change the C environment (.NET keeps its own
 * copy), so they use the exports fake_nvml_set(key, value) (INT_MIN unsets a key; for compatibility "gpus" < 0
 * and "lost" = -2 unset too), fake_nvml_set_event (the same function, kept for old callers) and fake_nvml_reset()
 * (unsets every key and empties the XID queue).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef int nvmlReturn_t;
typedef struct fake_device *nvmlDevice_t;
typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct { unsigned int version; unsigned long long total, reserved, free, used; } nvmlMemory_v2_t;
typedef struct {
  char busIdLegacy[16];
  unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];
} nvmlPciInfo_t;
typedef union {
  double dVal;
  int siVal;
  unsigned int uiVal;
  unsigned long ulVal;
  unsigned long long ullVal;
  long long sllVal;
  unsigned short usVal;
} nvmlValue_t;
typedef struct {
  unsigned int fieldId, scopeId;
  long long timestamp, latencyUsec;
  int valueType, nvmlReturn;
  nvmlValue_t value;
} nvmlFieldValue_t;
typedef struct {
  unsigned int pid;
  unsigned long long timeStamp;
  unsigned int smUtil, memUtil, encUtil, decUtil;
} nvmlProcessUtilizationSample_t;

_Static_assert(sizeof(nvmlPciInfo_t) == 68, "nvmlPciInfo_t");
_Static_assert(sizeof(nvmlMemory_v2_t) == 40, "nvmlMemory_v2_t");
_Static_assert(sizeof(nvmlFieldValue_t) == 40, "nvmlFieldValue_t");
_Static_assert(sizeof(nvmlProcessUtilizationSample_t) == 32, "nvmlProcessUtilizationSample_t");

#define MAX_GPUS 64
#define MIG_SLOTS 2

/* index: the GPU's own index, or for a MIG handle its parent's. */
struct fake_device { unsigned int index; int mig; unsigned int gi, ci; };
static struct fake_device devices[MAX_GPUS];
static struct fake_device mig_devices[MAX_GPUS * MIG_SLOTS];

__attribute__((constructor)) static void fake_setup(void) {
  for (unsigned int i = 0; i < MAX_GPUS; i++) {
    devices[i].index = i;
    for (unsigned int s = 0; s < MIG_SLOTS; s++) {
      struct fake_device *m = &mig_devices[i * MIG_SLOTS + s];
      m->index = i;
      m->mig = 1;
      m->gi = s + 1;
      m->ci = 0;
    }
  }
}

/* ---- control state ---- */

enum key {
  K_GPUS, K_LOST, K_MISMATCH, K_HANG, K_PROCESSES, K_PROCESS_STRIDE, K_MIG, K_NVLINKS, K_RECOVERY, K_XID, K_XID_GPU,
  K_GPM_UNSUPPORTED, K_GPM_BAD_METRIC, K_NO_UUID, K_NO_HANDLE, K_COUNT
};
static const char *const key_names[K_COUNT] = {
  "gpus", "lost", "mismatch", "hang", "processes", "process_stride", "mig", "nvlinks", "recovery", "xid", "xid_gpu",
  "gpm_unsupported", "gpm_bad_metric", "no_uuid", "no_handle",
};
static const int key_defaults[K_COUNT] = { 2, -1, 0, -1, -1, 24, -1, 4, 0, -1, 0, -1, -1, -1, -1 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int initialized;
static int set_has[K_COUNT], set_val[K_COUNT];
static int file_has[K_COUNT], file_val[K_COUNT];
static int env_has[K_COUNT], env_val[K_COUNT];
static int env_loaded;
static const char *control_path;
static int file_seen;
static struct stat file_stat;

struct xid_event { int xid, gpu; }; /* gpu -1: the xid_gpu in force at delivery */
#define XID_QUEUE 64
static struct xid_event xid_queue[XID_QUEUE];
static int xid_head, xid_len, env_xid_queued;

/* A snapshot of the effective control values, taken once per call. */
struct ctl { int initialized; int v[K_COUNT]; };

static int find_key(const char *name) {
  for (int k = 0; k < K_COUNT; k++)
    if (strcmp(name, key_names[k]) == 0) return k;
  return -1;
}

static int value_locked(enum key k) {
  if (set_has[k]) return set_val[k];
  if (file_has[k]) return file_val[k];
  if (env_has[k]) return env_val[k];
  return key_defaults[k];
}

static void xid_push_locked(int xid, int gpu) {
  if (xid_len == XID_QUEUE) { xid_head = (xid_head + 1) % XID_QUEUE; xid_len--; }
  xid_queue[(xid_head + xid_len) % XID_QUEUE] = (struct xid_event){ xid, gpu };
  xid_len++;
}

static void load_env_locked(void) {
  if (env_loaded) return;
  env_loaded = 1;
  for (int k = 0; k < K_COUNT; k++) {
    char name[64] = "FAKE_NVML_";
    size_t n = strlen(name);
    for (const char *p = key_names[k]; *p && n + 1 < sizeof name; p++) name[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
    name[n] = 0;
    const char *v = getenv(name);
    if (v) { env_has[k] = 1; env_val[k] = atoi(v); }
  }
  control_path = getenv("FAKE_NVML_CONTROL");
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  char *e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) *--e = 0;
  return s;
}

static void refresh_locked(void) {
  struct stat st;
  load_env_locked();
  if (!control_path) return;
  if (stat(control_path, &st) != 0) {
    if (file_seen) memset(file_has, 0, sizeof file_has);
    file_seen = 0;
    return;
  }
  if (file_seen && st.st_ino == file_stat.st_ino && st.st_size == file_stat.st_size &&
      st.st_mtim.tv_sec == file_stat.st_mtim.tv_sec && st.st_mtim.tv_nsec == file_stat.st_mtim.tv_nsec)
    return;
  file_seen = 1;
  file_stat = st;
  memset(file_has, 0, sizeof file_has);
  FILE *f = fopen(control_path, "r");
  if (!f) return;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    char *s = trim(line), *eq = strchr(s, '=');
    if (*s == '#' || !eq) continue;
    *eq = 0;
    int k = find_key(trim(s));
    if (k < 0) continue;
    file_has[k] = 1;
    file_val[k] = atoi(trim(eq + 1));
  }
  fclose(f);
  if (file_has[K_XID] && file_val[K_XID] >= 0) xid_push_locked(file_val[K_XID], value_locked(K_XID_GPU));
}

static void snapshot(struct ctl *c) {
  pthread_mutex_lock(&lock);
  refresh_locked();
  c->initialized = initialized;
  for (int k = 0; k < K_COUNT; k++) c->v[k] = value_locked((enum key)k);
  pthread_mutex_unlock(&lock);
}

void fake_nvml_set(const char *key, int value) {
  int k = key ? find_key(key) : -1;
  if (k < 0) return;
  pthread_mutex_lock(&lock);
  if (k == K_XID) {
    if (value >= 0) xid_push_locked(value, -1);
    else if (value != INT_MIN) xid_len = 0;
  } else if (value == INT_MIN || (k == K_GPUS && value < 0) || (k == K_LOST && value == -2)) {
    set_has[k] = 0;
  } else {
    set_has[k] = 1;
    set_val[k] = value;
  }
  pthread_mutex_unlock(&lock);
}

void fake_nvml_set_event(const char *key, int value) { fake_nvml_set(key, value); }

void fake_nvml_reset(void) {
  pthread_mutex_lock(&lock);
  memset(set_has, 0, sizeof set_has);
  xid_len = 0;
  pthread_mutex_unlock(&lock);
}

static unsigned int gpu_count(const struct ctl *c) {
  int n = c->v[K_GPUS];
  return n < 0 ? 0 : (n > MAX_GPUS ? MAX_GPUS : (unsigned int)n);
}

static void sleep_ms(long ms) {
  struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&t, &t) != 0) {}
}

static long long now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (long long)t.tv_sec * 1000000LL + t.tv_nsec / 1000;
}

/* The GPU (or MIG device) is in MIG mode. */
static int in_mig(const struct ctl *c, nvmlDevice_t d) { return c->v[K_MIG] >= 0 && c->v[K_MIG] == (int)d->index; }

static nvmlReturn_t check(nvmlDevice_t d, struct ctl *c) {
  snapshot(c);
  for (;;) {
    if (!c->initialized) return 1;
    if (c->v[K_MISMATCH]) return 18;
    if (!d) return 2;
    if (c->v[K_HANG] < 0 || c->v[K_HANG] != (int)d->index) break;
    sleep_ms(10);
    snapshot(c);
  }
  if (d->mig && !in_mig(c, d)) return 2;
  if (c->v[K_LOST] >= 0 && c->v[K_LOST] == (int)d->index) return 15;
  return 0;
}

#define CHECK(d, c) \
  struct ctl c; \
  do { nvmlReturn_t check_result = check((d), &c); if (check_result) return check_result; } while (0)

/* ---- init, system ---- */

nvmlReturn_t nvmlInit_v2(void) {
  nvmlReturn_t result = 0;
  pthread_mutex_lock(&lock);
  refresh_locked();
  if (value_locked(K_MISMATCH)) result = 18;
  else initialized++;
  pthread_mutex_unlock(&lock);
  return result;
}

nvmlReturn_t nvmlShutdown(void) {
  nvmlReturn_t result = 0;
  pthread_mutex_lock(&lock);
  if (!initialized) result = 1;
  else initialized--;
  pthread_mutex_unlock(&lock);
  return result;
}

const char *nvmlErrorString(nvmlReturn_t r) {
  switch (r) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 6: return "Not Found";
    case 7: return "Insufficient Size";
    case 10: return "Timeout";
    case 13: return "Function Not Found";
    case 15: return "GPU is lost";
    case 18: return "Driver/library version mismatch";
    case 20: return "Insufficient Memory";
    case 25: return "Argument version mismatch";
    default: return "Unknown Error";
  }
}

static nvmlReturn_t copy_string(const char *value, char *buffer, unsigned int length) {
  if (!buffer) return 2;
  if (strlen(value) + 1 > length) return 7;
  strcpy(buffer, value);
  return 0;
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
  struct ctl c;
  snapshot(&c);
  if (!c.initialized) return 1;
  if (c.v[K_MISMATCH]) return 18;
  return copy_string("580.159.04", version, length);
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
  struct ctl c;
  snapshot(&c);
  if (!c.initialized) return 1;
  if (c.v[K_MISMATCH]) return 18;
  if (!count) return 2;
  *count = gpu_count(&c);
  return 0;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
  struct ctl c;
  snapshot(&c);
  if (!c.initialized) return 1;
  if (c.v[K_MISMATCH]) return 18;
  if (!device || index >= gpu_count(&c)) return 2;
  if ((int)index == c.v[K_NO_HANDLE]) return 4;
  *device = &devices[index];
  return 0;
}

/* ---- identity ---- */

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int length) {
  CHECK(d, c);
  return copy_string("NVIDIA H100 80GB HBM3", name, length);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int length) {
  char value[96];
  CHECK(d, c);
  if (!d->mig && (int)d->index == c.v[K_NO_UUID]) return 999;
  if (d->mig) snprintf(value, sizeof value, "MIG-00000000-0000-0000-0000-%012u", d->gi);
  else snprintf(value, sizeof value, "GPU-00000000-0000-0000-0000-%012u", d->index);
  return copy_string(value, uuid, length);
}

nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t d, char *serial, unsigned int length) {
  char value[32];
  CHECK(d, c);
  snprintf(value, sizeof value, "1654322%06u", d->index);
  return copy_string(value, serial, length);
}

nvmlReturn_t nvmlDeviceGetVbiosVersion(nvmlDevice_t d, char *version, unsigned int length) {
  CHECK(d, c);
  return copy_string("96.00.74.00.01", version, length);
}

nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t d, int *major, int *minor) {
  CHECK(d, c);
  if (!major || !minor) return 2;
  *major = 9;
  *minor = 0;
  return 0;
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, nvmlPciInfo_t *pci) {
  CHECK(d, c);
  if (!pci) return 2;
  unsigned char bus = (unsigned char)(0x17 + d->index);
  memset(pci, 0, sizeof *pci);
  snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "0000:%02X:00.0", bus);
  snprintf(pci->busId, sizeof pci->busId, "00000000:%02X:00.0", bus);
  pci->domain = 0;
  pci->bus = bus;
  pci->device = 0;
  pci->pciDeviceId = 0x233010DEu;
  pci->pciSubSystemId = 0x16C110DEu;
  return 0;
}

/* ---- utilization, memory, sensors ---- */

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u) {
  CHECK(d, c);
  if (in_mig(&c, d)) return 3;
  u->gpu = 10 * (d->index + 1);
  u->memory = 5 * (d->index + 1);
  return 0;
}

static const unsigned long long total = 85520809984ULL, reserved = 503316480ULL;
static unsigned long long used_v2(nvmlDevice_t d) { return (d->index + 1ULL) << 30; }
static unsigned long long mig_total(nvmlDevice_t d) { return (unsigned long long)d->gi * 10ULL << 30; }
static unsigned long long mig_used(nvmlDevice_t d) { return (unsigned long long)d->gi << 30; }

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m) {
  CHECK(d, c);
  if (d->mig) {
    m->total = mig_total(d);
    m->used = mig_used(d);
    m->free = mig_total(d) - mig_used(d);
    return 0;
  }
  m->total = total;
  m->used = used_v2(d) + reserved; /* v1 used includes reserved (reference nvml.md section 5) */
  m->free = total - reserved - used_v2(d);
  return 0;
}

#ifndef NO_MEMORY_V2
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t *m) {
  CHECK(d, c);
  if (m->version != (40u | (2u << 24))) return 13; /* what driver 580 returned for a wrong version */
  if (d->mig) {
    m->total = mig_total(d);
    m->reserved = 0;
    m->used = mig_used(d);
    m->free = mig_total(d) - mig_used(d);
    return 0;
  }
  m->total = total;
  m->reserved = reserved;
  m->used = used_v2(d);
  m->free = total - reserved - used_v2(d);
  return 0;
}
#endif

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *celsius) {
  CHECK(d, c);
  if (sensor != 0) return 2;
  *celsius = 40 + d->index;
  return 0;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *milliwatts) {
  CHECK(d, c);
  *milliwatts = 100000 + 1000 * d->index;
  return 0;
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t d, unsigned int *milliwatts) {
  CHECK(d, c);
  if (!milliwatts) return 2;
  *milliwatts = 700000;
  return 0;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *millijoules) {
  CHECK(d, c);
  *millijoules = 1000000ULL * (d->index + 1);
  return 0;
}

nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t d, unsigned int *percent) {
  (void)percent;
  CHECK(d, c);
  return 3; /* H100 boards have no fans of their own */
}

static const unsigned int current_clock[4] = { 1755, 1755, 2619, 1500 };
static const unsigned int max_clock[4] = { 1980, 1980, 2619, 1710 };

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned int *mhz) {
  CHECK(d, c);
  if (type < 0 || type > 3) return 2;
  *mhz = current_clock[type] + (type < 2 ? d->index : 0);
  return 0;
}

nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t d, int type, unsigned int *mhz) {
  CHECK(d, c);
  if (type < 0 || type > 3) return 2;
  *mhz = max_clock[type];
  return 0;
}

nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t d, int *state) {
  CHECK(d, c);
  *state = 0;
  return 0;
}

nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t d, unsigned long long *reasons) {
  CHECK(d, c);
  *reasons = d->index == 0 ? 0x4ULL : 0x1ULL;
  return 0;
}

nvmlReturn_t nvmlDeviceGetTemperatureThreshold(nvmlDevice_t d, int type, unsigned int *celsius) {
  CHECK(d, c);
  if (type == 0) { *celsius = 95; return 0; }
  if (type == 1) { *celsius = 89; return 0; }
  return 3;
}

/* ---- ECC, retirement, PCIe ---- */

nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t d, int errorType, int counterType, unsigned long long *count) {
  CHECK(d, c);
  if (errorType < 0 || errorType > 1 || counterType < 0 || counterType > 1) return 2;
  *count = errorType == 1 ? 0 : (counterType == 0 ? d->index : 10ULL + d->index);
  return 0;
}

/* ECC mode: enabled now and after the next reboot on every GPU, as on an H100. */
nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t d, int *current, int *pending) {
  CHECK(d, c);
  *current = 1;
  *pending = 1;
  return 0;
}

nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t d, unsigned int *corr, unsigned int *unc, unsigned int *pending, unsigned int *failure) {
  CHECK(d, c);
  if (in_mig(&c, d)) return 3;
  *corr = d->index;
  *unc = 0;
  *pending = 0;
  *failure = 0;
  return 0;
}

nvmlReturn_t nvmlDeviceGetRetiredPages(nvmlDevice_t d, int cause, unsigned int *count, unsigned long long *addresses) {
  CHECK(d, c);
  if (d->index == 0) return 3;
  if (!count || cause < 0 || cause > 1) return 2;
  unsigned int pages = cause == 0 ? d->index : 0;
  if (*count < pages) { *count = pages; return 7; }
  if (pages > 0 && !addresses) return 2;
  for (unsigned int k = 0; k < pages; k++) addresses[k] = ((unsigned long long)d->index << 32) | (0x1000ULL * (k + 1));
  *count = pages;
  return 0;
}

nvmlReturn_t nvmlDeviceGetRetiredPagesPendingStatus(nvmlDevice_t d, int *pending) {
  CHECK(d, c);
  if (d->index == 0) return 3;
  if (!pending) return 2;
  *pending = d->index == 1 ? 1 : 0;
  return 0;
}

nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t d, unsigned int *generation) {
  CHECK(d, c);
  *generation = 5;
  return 0;
}

nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t d, unsigned int *width) {
  CHECK(d, c);
  *width = 16;
  return 0;
}

nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDevice_t d, unsigned int *generation) {
  CHECK(d, c);
  if (!generation) return 2;
  *generation = 5;
  return 0;
}

nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDevice_t d, unsigned int *width) {
  CHECK(d, c);
  if (!width) return 2;
  *width = 16;
  return 0;
}

nvmlReturn_t nvmlDeviceGetPcieReplayCounter(nvmlDevice_t d, unsigned int *count) {
  CHECK(d, c);
  *count = 3 * d->index;
  return 0;
}

nvmlReturn_t nvmlDeviceGetPcieThroughput(nvmlDevice_t d, int counter, unsigned int *kilobytesPerSecond) {
  CHECK(d, c);
  if (!kilobytesPerSecond || counter < 0 || counter > 1) return 2;
  sleep_ms(20); /* the real call samples a 20 ms window */
  *kilobytesPerSecond = (counter == 0 ? 1000u : 2000u) * (d->index + 1);
  return 0;
}

/* ---- field values ---- */

static void field_value(const struct ctl *c, nvmlDevice_t d, nvmlFieldValue_t *f) {
  unsigned int i = d->index, links = c->v[K_NVLINKS] < 0 ? 0 : (unsigned int)c->v[K_NVLINKS];
  int uint_type = 1, ull_type = 3;
  f->timestamp = now_us();
  f->latencyUsec = 0;
  f->value.ullVal = 0;
  f->nvmlReturn = 0;
  switch (f->fieldId) {
    case 82: f->valueType = uint_type; f->value.uiVal = 50 + i; return;
    case 230: f->valueType = uint_type; f->value.uiVal = (unsigned int)c->v[K_RECOVERY]; return;
    case 91: case 165: case 138: case 139: case 38: case 45: case 52: case 59: break;
    default: f->valueType = 0; f->nvmlReturn = 2; return;
  }
  /* NVLink */
  f->valueType = f->fieldId == 91 || f->fieldId == 165 ? uint_type : ull_type;
  if (links == 0) { f->nvmlReturn = 3; return; }
  switch (f->fieldId) {
    case 91: f->value.uiVal = links; return;
    case 165:
      if (f->scopeId >= links) { f->nvmlReturn = 2; return; }
      f->value.uiVal = i == 1 && f->scopeId == 3 ? 0 : 1;
      return;
    case 138: case 139:
      if (f->scopeId != 0xFFFFFFFFu) { f->nvmlReturn = 2; return; }
      f->value.ullVal = (f->fieldId == 138 ? 1000ULL : 2000ULL) * (i + 1);
      return;
    case 38: f->value.ullVal = i; return;
    case 52: f->value.ullVal = 2ULL * i; return;
    default: f->value.ullVal = 0; return; /* 45, 59 */
  }
}

nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t d, int count, nvmlFieldValue_t *values) {
  CHECK(d, c);
  if (count < 0 || (count > 0 && !values)) return 2;
  for (int k = 0; k < count; k++) {
    if (values[k].fieldId == 147) continue; /* never written on driver 580: the caller's sentinels stay */
    field_value(&c, d, &values[k]);
  }
  return 0;
}

/* ---- processes ---- */

static unsigned int process_total(const struct ctl *c, unsigned int gpu) {
  if (gpu == 0 && c->v[K_PROCESSES] >= 0) return c->v[K_PROCESSES] > 256 ? 256 : (unsigned int)c->v[K_PROCESSES];
  return gpu + 1;
}

/* Process k of the device belongs to it: always on a GPU handle; on a MIG handle only its gpu instance's. */
static int process_visible(nvmlDevice_t d, unsigned int k) { return !d->mig || 1 + (k % 2) == d->gi; }

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *count, void *infos) {
  CHECK(d, c);
  if (!count) return 2;
  unsigned int all = process_total(&c, d->index), n = 0;
  for (unsigned int k = 0; k < all; k++) n += (unsigned int)process_visible(d, k);
  if (*count < n) { *count = n; return 7; }
  if (n > 0 && !infos) return 2;
  size_t stride = c.v[K_PROCESS_STRIDE] == 32 ? 32 : 24;
  int mig = in_mig(&c, d);
  unsigned char *p = infos;
  for (unsigned int k = 0, j = 0; k < all; k++) {
    if (!process_visible(d, k)) continue;
    unsigned char *e = p + j++ * stride;
    unsigned int pid = 1000 * (d->index + 1) + k;
    unsigned long long used = (k + 1ULL) * 256ULL * 1024ULL * 1024ULL;
    unsigned int gi = mig ? 1 + (k % 2) : 0xFFFFFFFFu, ci = mig ? 0 : 0xFFFFFFFFu;
    memset(e, 0, stride); /* padding, and usedGpuCcProtectedMemory = 0 in the 32-byte layout */
    memcpy(e, &pid, 4);
    memcpy(e + 8, &used, 8);
    memcpy(e + 16, &gi, 4);
    memcpy(e + 20, &ci, 4);
  }
  *count = n;
  return 0;
}

nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t d, nvmlProcessUtilizationSample_t *samples, unsigned int *count, unsigned long long lastSeenTimeStamp) {
  CHECK(d, c);
  if (!count) return 2;
  if (in_mig(&c, d)) return 3;
  unsigned int n = process_total(&c, d->index), needed = n > 72 ? n : 72;
  if (!samples || *count < needed) { *count = needed; return 7; }
  unsigned long long now = (unsigned long long)now_us();
  unsigned int written = 0;
  if (now > lastSeenTimeStamp) {
    for (unsigned int k = 0; k < n; k++) {
      nvmlProcessUtilizationSample_t *s = &samples[written++];
      s->pid = 1000 * (d->index + 1) + k;
      s->timeStamp = now;
      s->smUtil = 10 * (k + 1);
      s->memUtil = 5 * (k + 1);
      s->encUtil = 0;
      s->decUtil = 0;
    }
  }
  *count = written;
  return written == 0 ? 6 : 0;
}

/* ---- MIG ---- */

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t d, unsigned int *current, unsigned int *pending) {
  CHECK(d, c);
  if (d->mig || !current || !pending) return 2;
  *current = *pending = (unsigned int)in_mig(&c, d);
  return 0;
}

nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t d, unsigned int *count) {
  CHECK(d, c);
  if (d->mig || !count) return 2;
  *count = in_mig(&c, d) ? 7 : 0;
  return 0;
}

nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t d, unsigned int index, nvmlDevice_t *mig) {
  CHECK(d, c);
  if (d->mig || !mig) return 2;
  if (!in_mig(&c, d) || index >= MIG_SLOTS) return 6;
  *mig = &mig_devices[d->index * MIG_SLOTS + index];
  return 0;
}

nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDevice_t d, unsigned int *isMig) {
  CHECK(d, c);
  if (!isMig) return 2;
  *isMig = (unsigned int)d->mig;
  return 0;
}

nvmlReturn_t nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t mig, nvmlDevice_t *device) {
  CHECK(mig, c);
  if (!mig->mig || !device) return 2;
  *device = &devices[mig->index];
  return 0;
}

nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t d, unsigned int *id) {
  CHECK(d, c);
  if (!d->mig || !id) return 2;
  *id = d->gi;
  return 0;
}

nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t d, unsigned int *id) {
  CHECK(d, c);
  if (!d->mig || !id) return 2;
  *id = d->ci;
  return 0;
}

/* ---- events ---- */

typedef struct fake_event_set *nvmlEventSet_t;
typedef struct { nvmlDevice_t device; unsigned long long eventType, eventData; unsigned int gpuInstanceId, computeInstanceId; } nvmlEventData_t;
struct fake_event_set { unsigned long long registered; };
static struct fake_event_set the_set;

nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
  nvmlReturn_t result = 0;
  pthread_mutex_lock(&lock);
  if (!initialized) result = 1;
  else if (!set) result = 2;
  else { the_set.registered = 0; *set = &the_set; }
  pthread_mutex_unlock(&lock);
  return result;
}

nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t d, unsigned long long *types) {
  CHECK(d, c);
  *types = 0x8ULL | 0x1ULL | 0x2ULL;
  return 0;
}

nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t d, unsigned long long types, nvmlEventSet_t set) {
  CHECK(d, c);
  if (!set) return 2;
  pthread_mutex_lock(&lock);
  set->registered |= types;
  if (!env_xid_queued) {
    env_xid_queued = 1;
    if (env_has[K_XID] && env_val[K_XID] >= 0) xid_push_locked(env_val[K_XID], -1);
  }
  pthread_mutex_unlock(&lock);
  return 0;
}

nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
  unsigned int waited = 0;
  if (!set || !data) return 2;
  for (;;) {
    nvmlReturn_t result = 10;
    pthread_mutex_lock(&lock);
    refresh_locked();
    if (!initialized) result = 1;
    else if (value_locked(K_MISMATCH)) result = 18;
    else if (xid_len > 0 && (set->registered & 0x8ULL)) {
      struct xid_event e = xid_queue[xid_head];
      int gpu = e.gpu >= 0 ? e.gpu : value_locked(K_XID_GPU), n = value_locked(K_GPUS);
      if (gpu >= 0 && gpu < n && gpu < MAX_GPUS) {
        xid_head = (xid_head + 1) % XID_QUEUE;
        xid_len--;
        data->device = &devices[gpu];
        data->eventType = 0x8ULL;
        data->eventData = (unsigned long long)e.xid;
        data->gpuInstanceId = data->computeInstanceId = 0xFFFFFFFFu;
        result = 0;
      }
    }
    pthread_mutex_unlock(&lock);
    if (result != 10 || waited >= timeoutms) return result;
    sleep_ms(10);
    waited += 10;
  }
}

nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
  if (!set) return 2;
  pthread_mutex_lock(&lock);
  set->registered = 0;
  pthread_mutex_unlock(&lock);
  return 0;
}

/* ---- video engines ---- */

nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t d, unsigned int *percent, unsigned int *period) {
  CHECK(d, c);
  if (in_mig(&c, d)) return 3;
  *percent = 2 * d->index;
  *period = 100000;
  return 0;
}

nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t d, unsigned int *percent, unsigned int *period) {
  CHECK(d, c);
  if (in_mig(&c, d)) return 3;
  *percent = 3 * d->index;
  *period = 100000;
  return 0;
}

/* ---- GPM (GPU Performance Monitoring; reference nvml.md, GPM addendum) ---- */

/* Every nvmlGpmSampleGet / nvmlGpmMigSampleGet call so far, whatever it returned (also in a -DNO_GPM build: 0). */
static int gpm_sample_calls;

int fake_nvml_gpm_samples(void) {
  pthread_mutex_lock(&lock);
  int n = gpm_sample_calls;
  pthread_mutex_unlock(&lock);
  return n;
}

#ifndef NO_GPM
#define NVML_GPM_METRIC_MAX 333
#define GPM_SAMPLE_MAGIC 0x47504D53u /* "GPMS" */
#define GPM_NO_INSTANCE 0xFFFFFFFFu

typedef struct { unsigned int version, isSupportedDevice; } nvmlGpmSupport_t;
/* The opaque sample: which device and gpu instance, the device's sample sequence number and the time. */
struct fake_gpm_sample { unsigned int magic, index, gi, taken; unsigned long long seq; long long time_us; };
typedef struct fake_gpm_sample *nvmlGpmSample_t;
/* The names are char * in the header; const here, same layout (they point at this library's static strings). */
typedef struct {
  unsigned int metricId;
  int nvmlReturn;
  double value;
  const char *shortName, *longName, *unit;
} nvmlGpmMetric_t;
typedef struct {
  unsigned int version, numMetrics;
  nvmlGpmSample_t sample1, sample2;
  nvmlGpmMetric_t metrics[NVML_GPM_METRIC_MAX];
} nvmlGpmMetricsGet_t;

_Static_assert(sizeof(nvmlGpmSupport_t) == 8, "nvmlGpmSupport_t");
_Static_assert(sizeof(nvmlGpmMetric_t) == 40, "nvmlGpmMetric_t");
_Static_assert(offsetof(nvmlGpmMetric_t, value) == 8 && offsetof(nvmlGpmMetric_t, unit) == 32, "nvmlGpmMetric_t offsets");
_Static_assert(offsetof(nvmlGpmMetricsGet_t, sample1) == 8 && offsetof(nvmlGpmMetricsGet_t, sample2) == 16, "nvmlGpmMetricsGet_t samples");
_Static_assert(offsetof(nvmlGpmMetricsGet_t, metrics) == 24, "nvmlGpmMetricsGet_t metrics");
_Static_assert(sizeof(nvmlGpmMetricsGet_t) == 13344, "nvmlGpmMetricsGet_t");

/* Per GPU: the sequence number of its last sample (whole GPU and MIG instances share it). */
static unsigned long long gpm_seq[MAX_GPUS];

/* The scripted metrics: value = base + k, k = the device index (whole GPU) or 10 * gpu instance id (MIG sample). */
struct gpm_metric { unsigned int id; double base; const char *short_name, *long_name, *unit; };
static const struct gpm_metric gpm_metrics[] = {
  { 1, 50, "gr_util", "Graphics engine activity", "%" },
  { 2, 40, "sm_util", "SM activity", "%" },
  { 3, 10, "sm_occupancy", "SM occupancy", "%" },
  { 4, 1, "int_util", "Integer pipe utilization", "%" },
  { 5, 30, "any_tensor_util", "Tensor pipe utilization (any)", "%" },
  { 10, 20, "dram_bw_util", "DRAM bandwidth utilization", "%" },
  { 11, 2, "fp64_util", "FP64 pipe utilization", "%" },
  { 12, 3, "fp32_util", "FP32 pipe utilization", "%" },
  { 13, 4, "fp16_util", "FP16 pipe utilization", "%" },
  { 20, 100, "pcie_tx", "PCIe transmit rate", "MiB/s" },
  { 21, 200, "pcie_rx", "PCIe receive rate", "MiB/s" },
  { 60, 300, "nvlink_rx", "NVLink total receive rate", "MiB/s" },
  { 61, 400, "nvlink_tx", "NVLink total transmit rate", "MiB/s" },
};

static int gpm_supported(const struct ctl *c, nvmlDevice_t d) {
  return c->v[K_GPM_UNSUPPORTED] < 0 || c->v[K_GPM_UNSUPPORTED] != (int)d->index;
}

static void count_gpm_sample(void) {
  pthread_mutex_lock(&lock);
  gpm_sample_calls++;
  pthread_mutex_unlock(&lock);
}

static void take_sample(nvmlDevice_t d, unsigned int gi, nvmlGpmSample_t sample) {
  pthread_mutex_lock(&lock);
  sample->index = d->index;
  sample->gi = gi;
  sample->seq = ++gpm_seq[d->index];
  sample->time_us = now_us();
  sample->taken = 1;
  pthread_mutex_unlock(&lock);
}

nvmlReturn_t nvmlGpmQueryDeviceSupport(nvmlDevice_t d, nvmlGpmSupport_t *support) {
  CHECK(d, c);
  if (!support) return 2;
  if (support->version != 1) return 25;
  support->isSupportedDevice = (unsigned int)gpm_supported(&c, d);
  return 0;
}

nvmlReturn_t nvmlGpmSampleAlloc(nvmlGpmSample_t *sample) {
  struct ctl c;
  snapshot(&c);
  if (!c.initialized) return 1;
  if (!sample) return 2;
  struct fake_gpm_sample *s = calloc(1, sizeof *s);
  if (!s) return 20;
  s->magic = GPM_SAMPLE_MAGIC;
  s->gi = GPM_NO_INSTANCE;
  *sample = s;
  return 0;
}

nvmlReturn_t nvmlGpmSampleFree(nvmlGpmSample_t sample) {
  if (!sample || sample->magic != GPM_SAMPLE_MAGIC) return 2;
  sample->magic = 0;
  free(sample);
  return 0;
}

nvmlReturn_t nvmlGpmSampleGet(nvmlDevice_t d, nvmlGpmSample_t sample) {
  count_gpm_sample();
  CHECK(d, c);
  if (d->mig || !sample || sample->magic != GPM_SAMPLE_MAGIC) return 2;
  if (!gpm_supported(&c, d)) return 3;
  take_sample(d, GPM_NO_INSTANCE, sample);
  return 0;
}

nvmlReturn_t nvmlGpmMigSampleGet(nvmlDevice_t d, unsigned int gpuInstanceId, nvmlGpmSample_t sample) {
  count_gpm_sample();
  CHECK(d, c);
  if (d->mig || !sample || sample->magic != GPM_SAMPLE_MAGIC) return 2;
  if (!gpm_supported(&c, d) || !in_mig(&c, d)) return 3;
  if (gpuInstanceId < 1 || gpuInstanceId > MIG_SLOTS) return 2;
  take_sample(d, gpuInstanceId, sample);
  return 0;
}

nvmlReturn_t nvmlGpmMetricsGet(nvmlGpmMetricsGet_t *m) {
  if (!m) return 2;
  if (m->version != 1) return 25;
  if (m->numMetrics > NVML_GPM_METRIC_MAX) return 2;
  nvmlGpmSample_t s1 = m->sample1, s2 = m->sample2;
  if (!s1 || !s2 || s1->magic != GPM_SAMPLE_MAGIC || s2->magic != GPM_SAMPLE_MAGIC) return 2;
  pthread_mutex_lock(&lock);
  int taken = s1->taken && s2->taken;
  unsigned int index = s1->index, gi = s1->gi;
  int same = s1->index == s2->index && s1->gi == s2->gi, ordered = s2->seq > s1->seq;
  pthread_mutex_unlock(&lock);
  if (!taken || !same || !ordered) return 2;
  CHECK(&devices[index], c); /* uninitialized, mismatch, hang and lost as for a call on the samples' GPU */
  double k = gi == GPM_NO_INSTANCE ? (double)index : 10.0 * gi;
  for (unsigned int n = 0; n < m->numMetrics; n++) {
    nvmlGpmMetric_t *e = &m->metrics[n];
    const struct gpm_metric *known = NULL;
    for (size_t j = 0; j < sizeof gpm_metrics / sizeof gpm_metrics[0]; j++)
      if (gpm_metrics[j].id == e->metricId) known = &gpm_metrics[j];
    e->value = 0;
    e->shortName = e->longName = e->unit = NULL;
    if (!known) { e->nvmlReturn = 2; continue; }
    e->shortName = known->short_name;
    e->longName = known->long_name;
    e->unit = known->unit;
    if (c.v[K_GPM_BAD_METRIC] >= 0 && (unsigned int)c.v[K_GPM_BAD_METRIC] == e->metricId) { e->nvmlReturn = 3; continue; }
    e->nvmlReturn = 0;
    e->value = known->base + k;
  }
  return 0;
}
#endif
