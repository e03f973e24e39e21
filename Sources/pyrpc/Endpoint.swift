/// `HOST:PORT`, `[::1]:8181` or `::1:8181`.
func parseEndpoint(_ text: String) throws -> (host: String, port: Int) {
    var host: Substring
    var portText: Substring
    if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
        host = text[text.index(after: text.startIndex)..<close]
        portText = text[text.index(after: close)...].drop { $0 == ":" }
    } else if let colon = text.lastIndex(of: ":") {
        host = text[..<colon]
        portText = text[text.index(after: colon)...]
    } else {
        throw CLIExit.usage("'\(text)' is not HOST:PORT (e.g. 127.0.0.1:8181 or [::1]:8181)")
    }
    guard let port = Int(portText), (0...65535).contains(port), !host.isEmpty else {
        throw CLIExit.usage("'\(text)' is not HOST:PORT (e.g. 127.0.0.1:8181 or [::1]:8181)")
    }
    if host == "*" { host = "0.0.0.0" }
    return (String(host), port)
}

func formatEndpoint(_ host: String, _ port: Int) -> String {
    host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
}
