#ifndef PYRPC_NUMBERS_H
#define PYRPC_NUMBERS_H

// 10^exponent for 0...22, the powers of ten that are exact doubles, for reading decimal
// numbers (PyRPCWire's FastFloat.swift). A C table is a constant in read-only data that the
// inlined lookup indexes directly. Swift has no such constant: a global array is reached
// through a lazy-initialization check on every use, a switch jumped on each number's count
// of fraction digits, and a tuple was copied onto the stack at every number.
static inline double pyrpc_exact_power_of_ten(long exponent) {
    static const double powers[23] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    };
    return powers[exponent];
}

#endif
