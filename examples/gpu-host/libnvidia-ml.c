/*
 * A stand-in libnvidia-ml.so.1 for the demo's simulated GPU host (make_host.py): the NVML
 * calls the generator and the stand-in nvidia-smi make, answered from a GPU table compiled
 * in (a container gets only the library mounted). A compact copy of the tests' stand-in,
 * tests/generate/fakenvml.c, as examples do not use the tests. Error codes are NVML's.
 */
#include <stdio.h>
#include <string.h>

#define SUCCESS 0
#define ERROR_UNINITIALIZED 1
#define ERROR_INVALID_ARGUMENT 2
#define ERROR_NOT_SUPPORTED 3
#define ERROR_INSUFFICIENT_SIZE 7
#define ERROR_NOT_FOUND 6
#define ERROR_UNKNOWN 999
#define MAX_GPUS 8

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

/* The GPUs, compiled in by make_host.py: FAKE_GPUS is a list of
 * {index, minor, "uuid", "pci bus id", "name"} initialisers. */
static int load(void) {
    static const struct gpu table[] = {FAKE_GPUS};
    gpu_count = sizeof table / sizeof table[0];
    memcpy(gpus, table, sizeof table);
    snprintf(driver, sizeof driver, "%s", FAKE_DRIVER);
    cuda = FAKE_CUDA;
    return SUCCESS;
}

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
