/*
 * A stand-in for libnvidia-ml.so.1, loaded by the tests through the agent's real P/Invoke path.
 * It exports the real symbol names with the real signatures (NVML 13.3 header, reference nvml.md) and
 * simulates FAKE_NVML_GPUS GPUs (default 2) with values derived from the device index, so tests can compute
 * the expected metrics independently:
 *   name "NVIDIA H100 80GB HBM3", uuid "GPU-00000000-0000-0000-0000-00000000000<i>"
 *   utilization gpu 10*(i+1) %, memory 5*(i+1) %
 *   memory total 85520809984, reserved 503316480, used (i+1) GiB, free = total - reserved - used
 *   temperature 40+i C, power 100000+1000*i mW, energy 1000000*(i+1) mJ
 * Built twice by the tests: as is, and with -DNO_MEMORY_V2 to play a pre-R510 driver without
 * nvmlDeviceGetMemoryInfo_v2 (a missing optional symbol).
 * FAKE_NVML_LOST=<i> makes device i return GPU_IS_LOST from every query.
 * Tests in the same process cannot change the C environment (.NET keeps its own copy), so the two settings can
 * also be changed at run time through the exported fake_nvml_set("gpus" | "lost", value).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int nvmlReturn_t;
typedef struct fake_device *nvmlDevice_t;
typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct { unsigned int version; unsigned long long total, reserved, free, used; } nvmlMemory_v2_t;

struct fake_device { unsigned int index; };
static struct fake_device devices[64];
static int initialized;

static int set_gpus = -1, set_lost = -2;

void fake_nvml_set(const char *key, int value) {
  if (strcmp(key, "gpus") == 0) set_gpus = value;
  if (strcmp(key, "lost") == 0) set_lost = value;
}

static unsigned int gpu_count(void) {
  const char *v = getenv("FAKE_NVML_GPUS");
  int n = set_gpus >= 0 ? set_gpus : (v ? atoi(v) : 2);
  return n < 0 ? 0 : (n > 64 ? 64 : (unsigned int)n);
}

static int lost(nvmlDevice_t d) {
  const char *v = getenv("FAKE_NVML_LOST");
  if (set_lost != -2) return set_lost == (int)d->index;
  return v && atoi(v) == (int)d->index;
}

#define CHECK(d) do { if (!initialized) return 1; if (!(d)) return 2; if (lost(d)) return 15; } while (0)

nvmlReturn_t nvmlInit_v2(void) { initialized++; return 0; }
nvmlReturn_t nvmlShutdown(void) { if (!initialized) return 1; initialized--; return 0; }

const char *nvmlErrorString(nvmlReturn_t r) {
  switch (r) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 7: return "Insufficient Size";
    case 13: return "Function Not Found";
    case 15: return "GPU is lost";
    default: return "Unknown Error";
  }
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
  if (!initialized) return 1;
  *count = gpu_count();
  return 0;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
  if (!initialized) return 1;
  if (index >= gpu_count()) return 2;
  devices[index].index = index;
  *device = &devices[index];
  return 0;
}

static nvmlReturn_t copy_string(const char *value, char *buffer, unsigned int length) {
  if (strlen(value) + 1 > length) return 7;
  strcpy(buffer, value);
  return 0;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int length) {
  CHECK(d);
  return copy_string("NVIDIA H100 80GB HBM3", name, length);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int length) {
  char value[96];
  CHECK(d);
  snprintf(value, sizeof value, "GPU-00000000-0000-0000-0000-%012u", d->index);
  return copy_string(value, uuid, length);
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u) {
  CHECK(d);
  u->gpu = 10 * (d->index + 1);
  u->memory = 5 * (d->index + 1);
  return 0;
}

static const unsigned long long total = 85520809984ULL, reserved = 503316480ULL;
static unsigned long long used_v2(nvmlDevice_t d) { return (d->index + 1ULL) << 30; }

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m) {
  CHECK(d);
  m->total = total;
  m->used = used_v2(d) + reserved; /* v1 used includes reserved (reference nvml.md section 5) */
  m->free = total - reserved - used_v2(d);
  return 0;
}

#ifndef NO_MEMORY_V2
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t *m) {
  CHECK(d);
  if (m->version != (40u | (2u << 24))) return 13; /* what driver 580 returned for a wrong version */
  m->total = total;
  m->reserved = reserved;
  m->used = used_v2(d);
  m->free = total - reserved - used_v2(d);
  return 0;
}
#endif

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *celsius) {
  CHECK(d);
  if (sensor != 0) return 2;
  *celsius = 40 + d->index;
  return 0;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *milliwatts) {
  CHECK(d);
  *milliwatts = 100000 + 1000 * d->index;
  return 0;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *millijoules) {
  CHECK(d);
  *millijoules = 1000000ULL * (d->index + 1);
  return 0;
}

nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t d, unsigned int *percent) {
  (void)percent;
  CHECK(d);
  return 3; /* H100 boards have no fans of their own */
}

/* Clocks (MHz): current graphics/SM 1755+i, memory 2619, video 1500; max 1980/1980/2619/1710.
 * P-state 0. Clock event reasons: GPU 0 at its power cap (0x4), others idle (0x1).
 * Temperature thresholds: shutdown (0) 95, slowdown (1) 89, as on the H100 in the reference. */
static const unsigned int current_clock[4] = { 1755, 1755, 2619, 1500 };
static const unsigned int max_clock[4] = { 1980, 1980, 2619, 1710 };

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned int *mhz) {
  CHECK(d);
  if (type < 0 || type > 3) return 2;
  *mhz = current_clock[type] + (type < 2 ? d->index : 0);
  return 0;
}

nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t d, int type, unsigned int *mhz) {
  CHECK(d);
  if (type < 0 || type > 3) return 2;
  *mhz = max_clock[type];
  return 0;
}

nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t d, int *state) {
  CHECK(d);
  *state = 0;
  return 0;
}

nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t d, unsigned long long *reasons) {
  CHECK(d);
  *reasons = d->index == 0 ? 0x4ULL : 0x1ULL;
  return 0;
}

nvmlReturn_t nvmlDeviceGetTemperatureThreshold(nvmlDevice_t d, int type, unsigned int *celsius) {
  CHECK(d);
  if (type == 0) { *celsius = 95; return 0; }
  if (type == 1) { *celsius = 89; return 0; }
  return 3;
}

/* ECC: corrected volatile i, corrected aggregate 10+i, uncorrected 0. Remapped rows: correctable i, the rest 0.
 * PCIe: generation 5, width 16, replays 3*i. */
nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t d, int errorType, int counterType, unsigned long long *count) {
  CHECK(d);
  if (errorType < 0 || errorType > 1 || counterType < 0 || counterType > 1) return 2;
  *count = errorType == 1 ? 0 : (counterType == 0 ? d->index : 10ULL + d->index);
  return 0;
}

nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t d, unsigned int *corr, unsigned int *unc, unsigned int *pending, unsigned int *failure) {
  CHECK(d);
  *corr = d->index;
  *unc = 0;
  *pending = 0;
  *failure = 0;
  return 0;
}

nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t d, unsigned int *generation) {
  CHECK(d);
  *generation = 5;
  return 0;
}

nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t d, unsigned int *width) {
  CHECK(d);
  *width = 16;
  return 0;
}

nvmlReturn_t nvmlDeviceGetPcieReplayCounter(nvmlDevice_t d, unsigned int *count) {
  CHECK(d);
  *count = 3 * d->index;
  return 0;
}

/* Events: every device supports the XID bit (0x8). One XID is delivered after registration when
 * FAKE_NVML_XID=<code> is set (on device FAKE_NVML_XID_GPU, default 0), or at run time via
 * fake_nvml_set("xid", code) / fake_nvml_set("xid_gpu", index). Waits sleep in 10 ms steps up to the timeout. */
#include <unistd.h>

typedef struct fake_event_set *nvmlEventSet_t;
typedef struct { nvmlDevice_t device; unsigned long long eventType, eventData; unsigned int gpuInstanceId, computeInstanceId; } nvmlEventData_t;
struct fake_event_set { unsigned long long registered; };
static struct fake_event_set the_set;
static volatile int pending_xid = -1, pending_gpu = 0, env_read;

void fake_nvml_set_event(const char *key, int value) {
  if (strcmp(key, "xid") == 0) pending_xid = value;
  if (strcmp(key, "xid_gpu") == 0) pending_gpu = value;
}

nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
  if (!initialized) return 1;
  the_set.registered = 0;
  *set = &the_set;
  return 0;
}

nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t d, unsigned long long *types) {
  CHECK(d);
  *types = 0x8ULL | 0x1ULL | 0x2ULL;
  return 0;
}

nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t d, unsigned long long types, nvmlEventSet_t set) {
  CHECK(d);
  if (!set) return 2;
  set->registered |= types;
  if (!env_read) {
    const char *xid = getenv("FAKE_NVML_XID"), *gpu = getenv("FAKE_NVML_XID_GPU");
    env_read = 1;
    if (xid) pending_xid = atoi(xid);
    if (gpu) pending_gpu = atoi(gpu);
  }
  return 0;
}

nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
  unsigned int waited = 0;
  if (!initialized) return 1;
  if (!set) return 2;
  for (;;) {
    if (pending_xid >= 0 && (set->registered & 0x8ULL) && pending_gpu >= 0 && (unsigned int)pending_gpu < gpu_count()) {
      devices[pending_gpu].index = (unsigned int)pending_gpu;
      data->device = &devices[pending_gpu];
      data->eventType = 0x8ULL;
      data->eventData = (unsigned long long)pending_xid;
      data->gpuInstanceId = data->computeInstanceId = 0xFFFFFFFFu;
      pending_xid = -1;
      return 0;
    }
    if (waited >= timeoutms) return 10;
    usleep(10000);
    waited += 10;
  }
}

nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
  if (!set) return 2;
  set->registered = 0;
  return 0;
}

/* Video engines: encoder 2*i %, decoder 3*i %, sampled over 100 ms as observed on the H100. */
nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t d, unsigned int *percent, unsigned int *period) {
  CHECK(d);
  *percent = 2 * d->index;
  *period = 100000;
  return 0;
}

nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t d, unsigned int *percent, unsigned int *period) {
  CHECK(d);
  *percent = 3 * d->index;
  *period = 100000;
  return 0;
}
