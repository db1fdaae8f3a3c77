/*
 * A stand-in nvidia-smi for simulated GPU hosts (examples/gpu-host/make_host.py, and the
 * tests' fixture hosts in tests/gpuhost.py).
 *
 * Like the real tool it is dynamically linked and dlopen()s "libnvidia-ml.so.1" by its
 * soname, so inside a container it only works when the CDI spec did its job: the library
 * mounted and the container's ld.so.cache updated by the spec's update-ldcache hook.
 *
 *   nvidia-smi -L | --list-gpus   "GPU <i>: <name> (UUID: <uuid>)" per device, as the real one
 *   nvidia-smi                    a one-line header, then the same list
 *
 * Failures print what the real tool prints in those cases and exit with status 9 (library
 * not found) or 255, so a broken injection is visible in the build output.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef int (*init_fn)(void);
typedef int (*count_fn)(unsigned *);
typedef int (*handle_fn)(unsigned, void **);
typedef int (*text_fn)(void *, char *, unsigned);
typedef int (*version_fn)(char *, unsigned);
typedef const char *(*error_fn)(int);

static void *symbol(void *library, const char *name) {
    void *found = dlsym(library, name);
    if (found == NULL)
        fprintf(stderr, "nvidia-smi: %s is missing from libnvidia-ml.so.1\n", name);
    return found;
}

int main(int argc, char **argv) {
    int list_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-L") == 0 || strcmp(argv[i], "--list-gpus") == 0) {
            list_only = 1;
        } else {
            fprintf(stderr, "nvidia-smi (test stand-in): unsupported argument %s\n", argv[i]);
            return 2;
        }
    }
    void *library = dlopen("libnvidia-ml.so.1", RTLD_NOW);
    if (library == NULL) {
        /* The real tool's message when the driver's library cannot be found. */
        printf("NVIDIA-SMI couldn't find libnvidia-ml.so library in your system. Please make "
               "sure that the NVIDIA Display Driver is properly installed and present in your "
               "system.\nPlease also try adding directory that contains libnvidia-ml.so to your "
               "system PATH.\n");
        return 9;
    }
    init_fn init = (init_fn)symbol(library, "nvmlInit_v2");
    count_fn count = (count_fn)symbol(library, "nvmlDeviceGetCount_v2");
    handle_fn handle = (handle_fn)symbol(library, "nvmlDeviceGetHandleByIndex_v2");
    text_fn name = (text_fn)symbol(library, "nvmlDeviceGetName");
    text_fn uuid = (text_fn)symbol(library, "nvmlDeviceGetUUID");
    version_fn version = (version_fn)symbol(library, "nvmlSystemGetDriverVersion");
    error_fn error = (error_fn)symbol(library, "nvmlErrorString");
    if (!init || !count || !handle || !name || !uuid || !version || !error)
        return 255;
    int status = init();
    if (status != 0) {
        printf("Failed to initialize NVML: %s\n", error(status));
        return 255;
    }
    unsigned devices = 0;
    if ((status = count(&devices)) != 0) {
        printf("Failed to get the device count: %s\n", error(status));
        return 255;
    }
    if (!list_only) {
        char driver[80] = "";
        version(driver, sizeof driver);
        printf("NVIDIA-SMI %s    Driver Version: %s (test stand-in)\n", driver, driver);
    }
    for (unsigned i = 0; i < devices; i++) {
        void *device = NULL;
        char model[96] = "", id[96] = "";
        if ((status = handle(i, &device)) != 0 || (status = name(device, model, sizeof model)) ||
            (status = uuid(device, id, sizeof id))) {
            printf("Unable to query GPU %u: %s\n", i, error(status));
            return 255;
        }
        printf("GPU %u: %s (UUID: %s)\n", i, model, id);
    }
    return 0;
}
