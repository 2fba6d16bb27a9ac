// Gradient laws, part 4 of 4: the ops of the registry at index 3 modulo 4 (op_laws.hpp).

#include "op_laws.hpp"

FUSEGRAD_OP_LAWS_PART(3)
