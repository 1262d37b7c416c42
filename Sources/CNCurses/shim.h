// ncursesw for Swift: wide-character calls need _XOPEN_SOURCE_EXTENDED before the include, and
// macros (LINES, COLOR_PAIR, KEY_*) become small functions Swift can call.
#ifndef PURR_CNCURSES_SHIM_H
#define PURR_CNCURSES_SHIM_H
#define _XOPEN_SOURCE_EXTENDED 1
#include <ncursesw/curses.h>
#include <locale.h>
#include <wchar.h>

static inline int purr_put(int y, int x, unsigned int codepoint, short pair, unsigned int attrs) {
    cchar_t cell;
    wchar_t text[2] = {(wchar_t)codepoint, 0};
    setcchar(&cell, text, (attr_t)attrs, pair, NULL);
    return mvadd_wch(y, x, &cell);
}

static inline int purr_lines(void) { return LINES; }
static inline int purr_cols(void) { return COLS; }
static inline int purr_colors(void) { return COLORS; }
static inline int purr_color_pairs(void) { return COLOR_PAIRS; }
static inline WINDOW *purr_stdscr(void) { return stdscr; }

static inline unsigned int purr_a_bold(void) { return A_BOLD; }
static inline unsigned int purr_a_underline(void) { return A_UNDERLINE; }
static inline unsigned int purr_a_reverse(void) { return A_REVERSE; }
static inline unsigned int purr_a_dim(void) { return A_DIM; }

/// Reads one key: returns ERR on timeout; *code is 1 for a function key (KEY_*), 0 for a character.
static inline int purr_get_key(unsigned int *value, int *code) {
    wint_t ch = 0;
    int result = get_wch(&ch);
    *value = (unsigned int)ch;
    *code = (result == KEY_CODE_YES);
    return result;
}

static inline int purr_key_up(void) { return KEY_UP; }
static inline int purr_key_down(void) { return KEY_DOWN; }
static inline int purr_key_left(void) { return KEY_LEFT; }
static inline int purr_key_right(void) { return KEY_RIGHT; }
static inline int purr_key_home(void) { return KEY_HOME; }
static inline int purr_key_end(void) { return KEY_END; }
static inline int purr_key_npage(void) { return KEY_NPAGE; }
static inline int purr_key_ppage(void) { return KEY_PPAGE; }
static inline int purr_key_enter(void) { return KEY_ENTER; }
static inline int purr_key_backspace(void) { return KEY_BACKSPACE; }
static inline int purr_key_dc(void) { return KEY_DC; }
static inline int purr_key_btab(void) { return KEY_BTAB; }
static inline int purr_key_resize(void) { return KEY_RESIZE; }

/// Mouse: every report the terminal can send is asked for, and the app keeps only the ones it uses.
/// A narrower mask is a trap: when a report is one the mask leaves out (a release, a drag, the right
/// button), ncurses's wgetch goes back to read the next key with a plain blocking read that ignores
/// timeout(), so the screen froze until the next key. mouseinterval(0): no waiting for click timing;
/// reports that arrive in one read are still merged into a click, which is why clicks count as presses.
static inline void purr_mouse_on(void) {
    mousemask(ALL_MOUSE_EVENTS | REPORT_MOUSE_POSITION, NULL);
    mouseinterval(0);
}
static inline int purr_key_mouse(void) { return KEY_MOUSE; }
/// Reads the pending mouse event: *button is 1 (left press), 4 (wheel up), 5 (wheel down) or 0 (any other
/// report: a release, a drag (ncurses reports it as a position), another button).
static inline int purr_get_mouse(int *x, int *y, int *button) {
    MEVENT event;
    if (getmouse(&event) != OK) return ERR;
    *x = event.x;
    *y = event.y;
    const mmask_t left = BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_DOUBLE_CLICKED | BUTTON1_TRIPLE_CLICKED;
    const mmask_t up = BUTTON4_PRESSED | BUTTON4_CLICKED | BUTTON4_DOUBLE_CLICKED | BUTTON4_TRIPLE_CLICKED;
    const mmask_t down = BUTTON5_PRESSED | BUTTON5_CLICKED | BUTTON5_DOUBLE_CLICKED | BUTTON5_TRIPLE_CLICKED;
    *button = (event.bstate & left) ? 1 : (event.bstate & up) ? 4 : (event.bstate & down) ? 5 : 0;
    return OK;
}

#endif
