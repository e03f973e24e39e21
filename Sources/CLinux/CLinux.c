// The target's code is all inline in include/CLinux.h; a C target needs one source file.
#include "CLinux.h"
