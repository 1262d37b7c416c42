/// Lays out an NTLM CHALLENGE_MESSAGE in the form gss-ntlmssp reads (MS-NLMP 2.2.1.2).
///
/// The old short form ends its fixed part at byte 40, with no TargetInfo fields (NTLMv1-era servers;
/// squid's NTLM helpers, `ntlm_fake_auth` among them, send it, and squid 5.7's also writes a TargetName
/// offset that points outside the message). gss-ntlmssp 1.2 refuses both as "Failed to decode data".
/// Such a message is rewritten with empty TargetInfo fields and its TargetName right behind them; the
/// server's challenge, flags and name are kept byte for byte. Any other message passes unchanged.
enum NTLMChallengeRepair {
    static let fullHeader = 48
    static let shortHeader = 40

    static func repair(_ message: [UInt8]) -> [UInt8] {
        guard message.count >= shortHeader, message.starts(with: Array("NTLMSSP\0".utf8)), le32(message, 8) == 2 else {
            return message  // not a challenge: GSSAPI says so itself
        }
        let nameLength = Int(le16(message, 12))
        let nameOffset = Int(le32(message, 16))
        let flags = le32(message, 20)
        let targetInfoFlag: UInt32 = 0x0080_0000
        let nameInside = nameLength == 0 || (nameOffset >= fullHeader && nameOffset + nameLength <= message.count)
        let targetInfoInside: Bool = {
            guard message.count >= fullHeader else { return false }
            let length = Int(le16(message, 40))
            let offset = Int(le32(message, 44))
            return flags & targetInfoFlag == 0 || length == 0 || (offset >= fullHeader && offset + length <= message.count)
        }()
        if message.count >= fullHeader && nameInside && targetInfoInside { return message }
        guard flags & targetInfoFlag == 0 else { return message }  // target info we cannot find: leave it to GSSAPI
        // The short form: the name (if any) follows the 40-byte fixed part.
        let name: [UInt8] =
            nameLength > 0 && shortHeader + nameLength <= message.count ? Array(message[shortHeader..<shortHeader + nameLength]) : []
        var repaired = Array(message[0..<shortHeader]) + [UInt8](repeating: 0, count: fullHeader - shortHeader) + name
        put16(&repaired, 12, UInt16(name.count))
        put16(&repaired, 14, UInt16(name.count))
        put32(&repaired, 16, UInt32(fullHeader))
        return repaired
    }

    private static func le16(_ bytes: [UInt8], _ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
    private static func le32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) }
    }
    private static func put16(_ bytes: inout [UInt8], _ at: Int, _ value: UInt16) {
        bytes[at] = UInt8(value & 0xff)
        bytes[at + 1] = UInt8(value >> 8)
    }
    private static func put32(_ bytes: inout [UInt8], _ at: Int, _ value: UInt32) {
        for index in 0..<4 { bytes[at + index] = UInt8((value >> (8 * UInt32(index))) & 0xff) }
    }
}
