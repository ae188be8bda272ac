/* main.c — the `parley` command (placeholder until the server lands). */
#include <stdio.h>
int main(void)
{
    puts("parley " PARLEY_VERSION);
    return 0;
}
