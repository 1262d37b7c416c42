import Foundation
import PurrCore
import PurrTUI
import PurrTestSupport
import XCTest

final class ThemeTests: XCTestCase {
    func testShippedThemesParseAndCoverEveryRole() throws {
        let library = ThemeLibrary(userDirectory: "/nonexistent", bundledDirectory: RepositoryPaths.themes)
        XCTAssertEqual(library.names.first, "default")
        for name in ["default", "light", "solarized-dark", "mono"] {
            let theme = try library.load(name)
            XCTAssertEqual(Set(theme.styles.keys), Set(ThemeRole.allCases), "\(name) sets every role")
        }
        let mono = try library.load("mono")
        XCTAssertTrue(mono.styles.values.allSatisfy { $0.foreground == .terminalDefault && $0.background == .terminalDefault })
    }

    func testUserThemesOverrideShippedOnes() throws {
        let user = FileManager.default.temporaryDirectory.appendingPathComponent("themes-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: user, withIntermediateDirectories: true)
        try "normal = red\n".write(toFile: "\(user)/default.theme", atomically: true, encoding: .utf8)
        try "normal = 42 on #102030\n".write(toFile: "\(user)/mine.theme", atomically: true, encoding: .utf8)
        let library = ThemeLibrary(userDirectory: user, bundledDirectory: RepositoryPaths.themes)
        XCTAssertEqual(try library.load("default").style(.normal).foreground, .index(1))
        XCTAssertEqual(try library.load("mine").style(.header).background, .rgb(0x10, 0x20, 0x30), "missing roles look like normal")
        XCTAssertTrue(library.names.contains("mine"))
        XCTAssertThrowsError(try library.load("nope")) { XCTAssertTrue("\($0)".contains("no theme named 'nope'")) }
    }

    func testThemeErrorsNameFileLineAndProblem() {
        let cases: [(String, String)] = [
            ("normal = default\nheadr = red", "t.theme:2: unknown role 'headr'"),
            ("normal = purpel", "t.theme:1: unknown colour 'purpel'"),
            ("normal = 300", "t.theme:1: unknown colour '300'"),
            ("normal = #12345", "t.theme:1: unknown colour '#12345'"),
            ("normal = red on", "t.theme:1: 'on' needs a background colour"),
            ("normal = red blinking", "t.theme:1: unexpected 'blinking'"),
            ("# only a comment\nnormal red", "t.theme:2: expected 'role = colour'"),
            ("header = red", "t.theme: the theme must set 'normal'"),
            ("normal = red\nnormal = blue", "t.theme:2: role 'normal' is set twice"),
            ("normal =", "t.theme:1: no colour given"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try Theme.parse(text, name: "t", file: "t.theme"), text) { error in
                XCTAssertTrue("\(error)".hasPrefix(expected), "\(error) should start with \(expected)")
            }
        }
        XCTAssertNoThrow(try Theme.parse("normal = #ffd75f on cyan bold # trailing comment\n\n", name: "t", file: "t.theme"))
    }

    func testColoursMapToThePaletteThereIs() {
        XCTAssertEqual(ThemeColor.terminalDefault.paletteIndex(colors: 256), -1)
        XCTAssertEqual(ThemeColor(parsing: "bright-white")?.paletteIndex(colors: 256), 15)
        XCTAssertEqual(ThemeColor(parsing: "#ffffff")?.paletteIndex(colors: 256), 231)
        XCTAssertEqual(ThemeColor(parsing: "#005f87")?.paletteIndex(colors: 256), 24)
        XCTAssertEqual(ThemeColor(parsing: "#ff0000")?.paletteIndex(colors: 8), 1)
        XCTAssertEqual(ThemeColor(parsing: "bright-red")?.paletteIndex(colors: 8), 1, "no bright colours on 8-colour terminals")
        XCTAssertEqual(ThemeColor(parsing: "200")?.paletteIndex(colors: 16), 13)
        XCTAssertEqual(ThemeColor(parsing: "grey"), .index(8))
    }
}
