import SiteTOML
import XCTest

/// Small valid/invalid documents modelled on the TOML 1.0 specification examples.
final class TOMLConformanceTests: XCTestCase {
    func testValidDocuments() throws {
        let cases: [(String, String)] = [
            ("", "{}"),
            ("# only a comment\n\n", "{}"),
            ("3.14159 = \"pi\"", #"{3={14159="pi"}}"#),
            ("\"\".basic = 1\nliteral.'' = 2", "{={basic=1},literal={=2}}"),
            ("apple.type = 1\norange.type = 2\napple.skin = 3", "{apple={type=1,skin=3},orange={type=2}}"),
            ("fruit.apple.smooth = true\nfruit.orange = 2", "{fruit={apple={smooth=true},orange=2}}"),
            ("[dog.\"tater.man\"]\ntype.name = \"pug\"", #"{dog={tater.man={type={name="pug"}}}}"#),
            ("[x.y.z.w]\n[x]", "{x={y={z={w={}}}}}"),
            ("[fruit.apple]\n[animal]\n[fruit.orange]", "{fruit={apple={},orange={}},animal={}}"),
            ("[ g .  h  . i ]\n[ j . \"ʞ\" . 'l' ]", "{g={h={i={}}},j={ʞ={l={}}}}"),
            ("['a']\n[a.'\"b\"']\n[a.'\"b\"'.c]\nanswer = 42", #"{a={"b"={c={answer=42}}}}"#),
            ("[[p]]\nname = 1\n[[p]]  # empty\n[[p]]\nname = 3", "{p=[{name=1},{},{name=3}]}"),
            ("a = [ { b = {} } ]\nc = [{},{d=1}]\nwith_cmt ={   }#x", "{a=[{b={}}],c=[{},{d=1}],with_cmt={}}"),
            ("s = [ \"all\", 'strings', \"\"\"are\"\"\", '''same''' ]", #"{s=["all","strings","are","same"]}"#),
            ("e1 = \"\"\"\"\"\"\ne2 = \"\"\"\n\"\"\"\ne3 = \"\"\"\\\n   \"\"\"", #"{e1="",e2="",e3=""}"#),
            ("escaped = \"\"\"lol\\\"\"\"\"\"\"", #"{escaped="lol\"\"\""}"#),
            ("four = \"\"\"\nx\n\"\"\"\"", #"{four="x\n\""}"#),
            ("lit = '''''two'''''", #"{lit="''two''"}"#),
            ("apos = \"'''''\"\nq = '''\"\"\"'''", #"{apos="'''''",q="\"\"\""}"#),
            ("int7 = 53_49_221\noct = 0o01234567\nhex = 0x00987\nbin = 0b1_0_1", "{int7=5349221,oct=342391,hex=2439,bin=5}"),
            ("exp = 3e1_4\nz = -0.0", "{exp=300000000000000.0,z=-0.0}"),
            ("key = \"# not a comment\" # comment", ##"{key="# not a comment"}"##),
            ("k = 1 # c \u{00E9}", "{k=1}"),
            ("'\\u0000' = 1\n\"\\u0041\" = 2", #"{\u0000=1,A=2}"#),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(dump(parseOK(text)), expected, text)
        }
    }

    func testInvalidDocuments() {
        let cases = [
            "fruits = []\n[[fruits]]",
            "[fruit.physical]\ncolor = 1\n[[fruit]]",
            "[a.b.c]\nz = 9\n[a]\nb.c.t = 1",
            "[[table] ]",
            "[[tab.arr]]\n[tab]\narr.val1=1",
            "[product]\ntype = { name = \"Nail\" }\ntype.edible = false",
            "[product]\ntype.name = \"Nail\"\ntype = { edible = false }",
            "f = .7", "f = 7.", "f = 3.e+20", "f = 1e+", "f = 0_1.0", "f = 1.0_", "i = 1__0", "i = 0b2", "i = 0o",
            "abc = { abc = 123, }",
            "first = \"Tom\" last = \"Preston-Werner\"",
            "key =",
            "[t1]\nt2.t3.v = 0\n[t1.t2]",
            "[t1]\nt2.t3.v = 0\n[t1.t2.t3]",
            "spelling = 1\n\"spelling\" = 2",
            "[a.b]\n[a]\n[a]",
            "[fruit]\napple = 1\n[fruit]",
            "[fruit]\napple = \"red\"\n[fruit.apple]",
            "s = \"\"\"three: \"\"\"\"\"\"",
            "s = '''apos: ''''''''''''",
            "fruit.apple = 1\nfruit.apple.smooth = true",
            "a = [1, 2", "a = {", "a = \"\\", "a = '''", "[a", "[[a]", "a = 1\r", "\r\na = 1\rb = 2",
            "a = 1979-05-27T", "a = 1979-05-27 07:32", "a = 07:32", "a = 1979-02-30",
            "a = {b = 1\n}", "a = { b = 1 }}", "a = [1,]]", "a.b.c = 1\na.b = 2",
            "x = tru", "x = \"\\x41\"", "x = \"\\U0000\"", "x = 'a\nb'",
        ]
        for text in cases {
            XCTAssertThrowsError(try TOML.parse(text), text.debugDescription) { error in
                XCTAssertTrue(error is TOMLError)
            }
        }
    }
}
