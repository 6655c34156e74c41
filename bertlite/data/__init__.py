"""The data the BERT reads: the pre-training corpus (lesson 01), the fine-tuning tasks (lesson 09)
and the text the course checkpoint was pre-trained on. Import from the module that defines a name:
`from bertlite.data.corpus import load_sotu`."""
