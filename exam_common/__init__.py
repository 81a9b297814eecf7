"""What every side of the system shares and none owns: the centre server, the terminal
client and the central service all import it; it imports none of them."""
