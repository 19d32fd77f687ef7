/* Loads a DLL the way Godot does on Windows (LoadLibrary: every import must resolve) and looks
 * up the GDNative entry points Godot calls (godot_nativescript_frame every frame: see
 * rust/godot/ffi.rs). Exit code 0 when all of that works. Run under
 * wine by scripts/harness/addon_test.sh. */
#include <stdio.h>
#include <windows.h>

int main(int argc, char **argv) {
    static const char *const entry_points[] = {
        "godot_gdnative_init",
        "godot_gdnative_terminate",
        "godot_nativescript_init",
        "godot_nativescript_frame",
    };
    if (argc != 2) {
        fprintf(stderr, "usage: load_dll PATH\n");
        return 2;
    }
    HMODULE library = LoadLibraryA(argv[1]);
    if (library == NULL) {
        printf("load_dll: %s does not load: error %lu (126: an import is missing)\n", argv[1],
               GetLastError());
        return 1;
    }
    for (size_t i = 0; i < sizeof entry_points / sizeof entry_points[0]; i++) {
        if (GetProcAddress(library, entry_points[i]) == NULL) {
            printf("load_dll: %s does not export %s\n", argv[1], entry_points[i]);
            return 1;
        }
    }
    printf("load_dll: %s loads, and exports the GDNative entry points\n", argv[1]);
    return 0;
}
