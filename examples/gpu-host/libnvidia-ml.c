/*
 * A stand-in libnvidia-ml.so.1 for simulated GPU hosts (examples/gpu-host/make_host.py, and
 * the tests' fixture hosts): the NVML calls the generator and nvidia-smi.c make, answered from
 * a text file beside the library, "<library>.conf":
 *
 *     driver 999.88.77
 *     cuda 13010
 *     gpu <uuid> <minor> <pci bus id> <name, the rest of the line>
 *
 * It lets the real path run without a GPU: pynvml loads it from the driver root as it
 * would load NVIDIA's library. Error codes are NVML's (nvml.h).
 *
 * Compiled with FAKENVML_TABLE defined (a string in the same format, e.g. through
 * "-include fakenvml_gpus.h"), the table is built in and no file is read: inside a
 * container only the library itself is mounted, not a file beside it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#define SUCCESS 0
#define ERROR_UNINITIALIZED 1
#define ERROR_INVALID_ARGUMENT 2
#define ERROR_NOT_SUPPORTED 3
#define ERROR_INSUFFICIENT_SIZE 7
#define ERROR_NOT_FOUND 6
#define ERROR_UNKNOWN 999
#define MAX_GPUS 64

struct gpu {
    unsigned index;
    unsigned minor;
    char uuid[96];
    char bus[32];
    char name[96];
};

typedef struct {
    char busIdLegacy[16];
    unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} pci_info;

static struct gpu gpus[MAX_GPUS];
static unsigned gpu_count;
static char driver[80];
static int cuda;
static int initialized;

static void parse(FILE *file) {
    char line[512];
    gpu_count = 0;
    while (fgets(line, sizeof line, file) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        struct gpu *gpu = &gpus[gpu_count];
        int name_at = 0;
        if (sscanf(line, "driver %79s", driver) == 1 || sscanf(line, "cuda %d", &cuda) == 1)
            continue;
        if (gpu_count < MAX_GPUS &&
            sscanf(line, "gpu %95s %u %31s %n", gpu->uuid, &gpu->minor, gpu->bus, &name_at) == 3 &&
            name_at > 0) {
            snprintf(gpu->name, sizeof gpu->name, "%s", line + name_at);
            gpu->index = gpu_count++;
        }
    }
}

#ifdef FAKENVML_TABLE
static int load(void) {
    static char table[] = FAKENVML_TABLE;
    FILE *file = fmemopen(table, strlen(table), "r");
    if (file == NULL)
        return ERROR_UNKNOWN;
    parse(file);
    fclose(file);
    return SUCCESS;
}
#else
static int load(void) {
    Dl_info self;
    char path[4096];
    if (dladdr((void *)load, &self) == 0 || snprintf(path, sizeof path, "%s.conf", self.dli_fname) >= (int)sizeof path)
        return ERROR_UNKNOWN;
    FILE *file = fopen(path, "r");
    if (file == NULL)
        return ERROR_UNKNOWN;
    parse(file);
    fclose(file);
    return SUCCESS;
}
#endif

static int copy(char *buffer, unsigned length, const char *value) {
    if (buffer == NULL)
        return ERROR_INVALID_ARGUMENT;
    if (strlen(value) >= length)
        return ERROR_INSUFFICIENT_SIZE;
    strcpy(buffer, value);
    return SUCCESS;
}

#define CHECK_DEVICE(device)            \
    if (!initialized)                   \
        return ERROR_UNINITIALIZED;     \
    if ((device) == NULL)               \
        return ERROR_INVALID_ARGUMENT;

int nvmlInitWithFlags(unsigned flags) {
    (void)flags;
    int status = load();
    initialized = status == SUCCESS;
    return status;
}
int nvmlInit_v2(void) { return nvmlInitWithFlags(0); }
int nvmlShutdown(void) {
    if (!initialized)
        return ERROR_UNINITIALIZED;
    initialized = 0;
    return SUCCESS;
}
const char *nvmlErrorString(int result) {
    switch (result) {
    case SUCCESS: return "Success";
    case ERROR_UNINITIALIZED: return "Uninitialized";
    case ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case ERROR_NOT_SUPPORTED: return "Not Supported";
    case ERROR_NOT_FOUND: return "Not Found";
    case ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    default: return "Unknown Error";
    }
}
int nvmlSystemGetDriverVersion(char *version, unsigned length) {
    return initialized ? copy(version, length, driver) : ERROR_UNINITIALIZED;
}
int nvmlSystemGetCudaDriverVersion(int *version) {
    if (!initialized)
        return ERROR_UNINITIALIZED;
    *version = cuda;
    return SUCCESS;
}
int nvmlSystemGetCudaDriverVersion_v2(int *version) { return nvmlSystemGetCudaDriverVersion(version); }
int nvmlDeviceGetCount_v2(unsigned *count) {
    if (!initialized)
        return ERROR_UNINITIALIZED;
    *count = gpu_count;
    return SUCCESS;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned index, struct gpu **device) {
    if (!initialized)
        return ERROR_UNINITIALIZED;
    if (index >= gpu_count)
        return ERROR_INVALID_ARGUMENT;
    *device = &gpus[index];
    return SUCCESS;
}
int nvmlDeviceGetHandleByUUID(const char *uuid, struct gpu **device) {
    if (!initialized)
        return ERROR_UNINITIALIZED;
    for (unsigned i = 0; i < gpu_count; i++) {
        if (strcmp(gpus[i].uuid, uuid) == 0) {
            *device = &gpus[i];
            return SUCCESS;
        }
    }
    return ERROR_NOT_FOUND;
}
int nvmlDeviceGetIndex(struct gpu *device, unsigned *index) {
    CHECK_DEVICE(device)
    *index = device->index;
    return SUCCESS;
}
int nvmlDeviceGetUUID(struct gpu *device, char *uuid, unsigned length) {
    CHECK_DEVICE(device)
    return copy(uuid, length, device->uuid);
}
int nvmlDeviceGetName(struct gpu *device, char *name, unsigned length) {
    CHECK_DEVICE(device)
    return copy(name, length, device->name);
}
int nvmlDeviceGetMinorNumber(struct gpu *device, unsigned *minor) {
    CHECK_DEVICE(device)
    *minor = device->minor;
    return SUCCESS;
}
int nvmlDeviceGetPciInfo_v3(struct gpu *device, pci_info *info) {
    CHECK_DEVICE(device)
    memset(info, 0, sizeof *info);
    snprintf(info->busIdLegacy, sizeof info->busIdLegacy, "%.15s", device->bus);
    snprintf(info->busId, sizeof info->busId, "%s", device->bus);
    return SUCCESS;
}
int nvmlDeviceGetMigMode(struct gpu *device, unsigned *current, unsigned *pending) {
    CHECK_DEVICE(device)
    (void)current;
    (void)pending;
    return ERROR_NOT_SUPPORTED;
}
int nvmlDeviceIsMigDeviceHandle(struct gpu *device, unsigned *is_mig) {
    CHECK_DEVICE(device)
    *is_mig = 0;
    return SUCCESS;
}
