"""Disclosure control's linear attacker: the cells and relations a reader of the marts sees (attack), the
LPs that solve them (solver), the build's audit and repair (repair) and the certificates that let the
export skip the weeks the build already audited (certificate). docs/epidemiology.md, disclosure control."""
