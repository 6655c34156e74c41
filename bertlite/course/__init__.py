"""The course's tools, around the BERT you build: the command line (cli.py), the workshop commands
(doctor, prepare, reset), assembling and verifying your own package (assemble, report, verify),
the lesson generator (lessons.py), lesson 09's experiment runner (transfer.py) and the diagrams.
They may import the BERT (bertlite/) and its data (bertlite/data/); nothing there imports them."""
