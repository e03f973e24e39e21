/// "Did you mean" for misspelt keys and names.
enum Suggestion {
    /// The candidate closest to `word`, if it is close enough to be a plausible typo:
    /// at most 2 edits (1 for short words), or one being a prefix of the other (`arg`/`args`).
    static func closest(to word: String, among candidates: [String]) -> String? {
        let lowered = word.lowercased()
        var best: (candidate: String, distance: Int)? = nil
        for candidate in candidates {
            let other = candidate.lowercased()
            var distance = editDistance(Array(lowered), Array(other))
            if distance > 0, lowered.count >= 3, other.hasPrefix(lowered) || lowered.hasPrefix(other) {
                distance = min(distance, 1)
            }
            let allowed = min(lowered.count, other.count) <= 4 ? 1 : 2
            guard distance <= allowed else { continue }
            if best.map({ distance < $0.distance }) ?? true { best = (candidate, distance) }
        }
        return best?.candidate
    }

    /// Levenshtein distance, where swapping two neighbouring characters counts as one edit.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previousRow: [Int] = []
        var row = Array(0...b.count)
        for i in 1...a.count {
            var next = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                next[j] = min(row[j] + 1, next[j - 1] + 1, row[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    next[j] = min(next[j], previousRow[j - 2] + 1)
                }
            }
            previousRow = row
            row = next
        }
        return row[b.count]
    }
}
