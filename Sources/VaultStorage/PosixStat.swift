#if canImport(Glibc)
import Glibc
#endif

/// `stat(2)` of a path, callable from types that have a `stat` method of their own.
func statPath(_ path: String, _ st: inout Glibc.stat) -> Int32 { stat(path, &st) }
