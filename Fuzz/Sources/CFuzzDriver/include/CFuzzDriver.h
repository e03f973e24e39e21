#include <stddef.h>
#include <stdint.h>

// libFuzzer's entry for programs that have their own main. SwiftPM links an executable's
// main as `<module>_main`, so each target's main hands control to libFuzzer through this.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
