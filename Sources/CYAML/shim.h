#ifndef PYRPC_CYAML_SHIM_H
#define PYRPC_CYAML_SHIM_H
#include <yaml.h>
#endif
