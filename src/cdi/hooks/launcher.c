/*
 * cdi-hook launcher: starts the hook in an isolated Python interpreter with a clean
 * environment.
 *
 * A hook runs as root. Linked statically, this launcher is not affected by the dynamic
 * loader's variables (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, ...) in its caller's
 * environment, and it hands the interpreter only PATH and the hook's own switches, with -I
 * (no PYTHON* variables, no user site directory, no script directory on sys.path). So
 * nothing in the environment a runtime passes, from a spec or from a container image,
 * can make the hook load other code. Built by `cdi install-hook`, which fixes the
 * interpreter's path at compile time (-DCDI_PYTHON="...").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CDI_PYTHON
#error "build with -DCDI_PYTHON=\"/path/to/python\""
#endif

static const char *const kept[] = {
    "NVIDIA_CTK_DEBUG=", "NVIDIA_CDI_DEBUG=", "NVIDIA_CTK_QUIET=", "NVIDIA_CDI_QUIET=", NULL,
};

int main(int argc, char **argv, char **envp) {
    char *env[8];
    int count = 0;
    env[count++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (char **entry = envp; *entry != NULL && count < 7; entry++) {
        for (const char *const *name = kept; *name != NULL; name++) {
            if (strncmp(*entry, *name, strlen(*name)) == 0) {
                env[count++] = *entry;
                break;
            }
        }
    }
    env[count] = NULL;

    char **args = calloc((size_t)argc + 4, sizeof *args);
    if (args == NULL) {
        return 1;
    }
    args[0] = CDI_PYTHON;
    args[1] = "-I";
    args[2] = "-m";
    args[3] = "cdi.hooks";
    for (int i = 1; i < argc; i++) {
        args[i + 3] = argv[i];
    }
    args[argc + 3] = NULL;
    execve(CDI_PYTHON, args, env);
    perror("cdi-hook: cannot start " CDI_PYTHON);
    return 127;
}
