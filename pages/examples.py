"""Built-in example proteins, one per class, for the Predict page's buttons (app-only content)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    label: str  # expected class (a name in CLASSES)
    name: str
    organism: str
    group: str  # organism group for the predictor
    accession: str
    source: str
    sequence: str
    short: str = ""  # gene-style short name for buttons
    # Other ids of this exact sequence in the labelled sources (Swiss-Prot entry name, PSORTb
    # GI as the dataset build names it): how the example is found in a set's heldout.csv.
    aliases: tuple[str, ...] = ()

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.accession, *self.aliases)

    def fasta(self) -> str:
        header = f">{self.accession} {self.name} [{self.organism}]"
        lines = [self.sequence[i : i + 60] for i in range(0, len(self.sequence), 60)]
        return "\n".join([header, *lines])


# Sequences are copied from the labelled sets in ../shared/data (see ``source``), which are
# UniProtKB/Swiss-Prot sequences; tests/test_examples.py re-checks them when PROTLOC_DATA
# is set. These proteins (or close homologues) are in the training data of most localization
# predictors, so they demonstrate the app; they do not test it.
_GROEL = (
    "MAAKDVKFGNDARVKMLRGVNVLADAVKVTLGPKGRNVVLDKSFGAPTITKDGVSVAREIELEDKFENMGAQMVKEVASK"
    "ANDAAGDGTTTATVLAQAIITEGLKAVAAGMNPMDLKRGIDKAVTAAVEELKALSVPCSDSKAIAQVGTISANSDETVGK"
    "LIAEAMDKVGKEGVITVEDGTGLQDELDVVEGMQFDRGYLSPYFINKPETGAVELESPFILLADKKISNIREMLPVLEAV"
    "AKAGKPLLIIAEDVEGEALATLVVNTMRGIVKVAAVKAPGFGDRRKAMLQDIATLTGGTVISEEIGMELEKATLEDLGQA"
    "KRVVINKDTTTIIDGVGEEAAIQGRVAQIRQQIEEATSDYDREKLQERVAKLAGGVAVIKVGAATEVEMKEKKARVEDAL"
    "HATRAAVEEGVVAGGGVALIRVASKLADLRGQNEDQNVGIKVALRAMEAPLRQIVLNCGEEPSVVANTVKGGDGNYGYNA"
    "ATEEYGNMIDMGILDPTKVTRSALQYAASVAGLMITTECMVTDLPKNDAADLGAAGGMGGMGGMGGMM"
)
_LACY = (
    "MYYLKNTNFWMFGLFFFFYFFIMGAYFPFFPIWLHDINHISKSDTGIIFAAISLFSLLFQPLFGLLSDKLGLRKYLLWII"
    "TGMLVMFAPFFIFIFGPLLQYNILVGSIVGGIYLGFCFNAGAPAVEAFIEKVSRRSNFEFGRARMFGCVGWALCASIVGI"
    "MFTINNQFVFWLGSGCALILAVLLFFAKTDAPSSATVANAVGANHSAFSLKLALELFRQPKLWFLSLYVIGVSCTYDVFD"
    "QQFANFFTSFFATGEQGTRVFGYVTTMGELLNASIMFFAPLIINRIGGKNALLLAGTIMSVRIIGSSFATSALEVVILKT"
    "LHMFEVPFLLVGCFKYITSQFEVRFSATIYLVCFCFFKQLAMIFMSVLAGNMYESIGFQGAYLVLGLVALGFTLISVFTL"
    "SGPGPLSLLRRQVNEVA"
)
_MALE = (
    "MKIKTGARILALSALTTMMFSASALAKIEEGKLVIWINGDKGYNGLAEVGKKFEKDTGIKVTVEHPDKLEEKFPQVAATG"
    "DGPDIIFWAHDRFGGYAQSGLLAEITPDKAFQDKLYPFTWDAVRYNGKLIAYPIAVEALSLIYNKDLLPNPPKTWEEIPA"
    "LDKELKAKGKSALMFNLQEPYFTWPLIAADGGYAFKYENGKYDIKDVGVDNAGAKAGLTFLVDLIKNKHMNADTDYSIAE"
    "AAFNKGETAMTINGPWAWSNIDTSKVNYGVTVLPTFKGQPSKPFVGVLSAGINAASPNKELAKEFLENYLLTDEGLEAVN"
    "KDKPLGAVALKSYEEELAKDPRIAATMENAQKGEIMPNIPQMSAFWYAVRTAVINAASGRQTVDEALKDAQTRITK"
)
_OMPA = (
    "MKKTAIAIAVALAGFATVAQAAPKDNTWYTGAKLGWSQYHDTGFINNNGPTHENQLGAGAFGGYQVNPYVGFEMGYDWLG"
    "RMPYKGSVENGAYKAQGVQLTAKLGYPITDDLDIYTRLGGMVWRADTKSNVYGKNHDTGVSPVFAGGVEYAITPEIATRL"
    "EYQWTNNIGDAHTIGTRPDNGMLSLGVSYRFGQGEAAPVVAPAPAPAPEVQTKHFTLKSDVLFNFNKATLKPEGQAALDQ"
    "LYSQLSNLDPKDGSVVVLGYTDRIGSDAYNQGLSERRAQSVVDYLISKGIPADKISARGMGESNPVTGNTCDNVKQRAAL"
    "IDCLAPDRRVEIEVKGIKDVVTQPQA"
)
_HLYA = (
    "MPKLNRCAIAIFTILSAISSPTLLANINEPSGEAADIISQVADSHAIKYYNAADWQAEDNALPSLAELRDLVINQQKRVL"
    "VDFSQISDAEGQAEMQAQFRKAYGVGFANQFIVITEHKGELLFTPFDQAEEVDPQLLEAPRTARLLARSGFASPAPANSE"
    "TNTLPHVAFYISVNRAISDEECTFNNSWLWKNEKGSRPFCKDANISLIYRVNLERSLQYGIVGSATPDAKIVRISLDDDS"
    "TGAGIHLNDQLGYRQFGASYTTLDAYFREWSTDAIAQDYRFVFNASNNKAQILKTFPVDNINEKFERKEVSGFELGVTGG"
    "VEVSGDGPKAKLEARASYTQSRWLTYNTQDYRIERNAKNAQAVSFTWNRQQYATAESLLNRSTDALWVNTYPVDVNRISP"
    "LSYASFVPKMDVIYKASATETGSTDFIIDSSVNIRPIYNGAYKHYYVVGAHQSYHGFEDTPRRRITKSASFTVDWDHPVF"
    "TGGRPVNLQLASFNNRCIQVDAQGRLAANTCDSQQSAQSFIYDQLGRYVSASNTKLCLDGEALDALQPCNQNLTQRWEWR"
    "KGTDELTNVYSGESLGHDKQTGELGLYASSNDAVSLRTITAYTDVFNAQESSPILGYTQGKMNQQRVGQDHRLYVRAGAA"
    "IDALGSASDLLVGGNGGSLSSVDLSGVKSITATSGDFQYGGQQLVALTFTYQDGRQQTVGSKAYVTNAHEDRFDLPAAAK"
    "ITQLKIWSDDWLVKGVQFDLN"
)
_M6 = (
    "MAKNNTNRHYSLRKLKKGTASVAVALSVIGAGLVVNTNEVSARVFPRGTVENPDKARELLNKYDVENSMLQANNDKLTTE"
    "NNNLTDQNKNLTTENKNLTDQNKNLTTENKNLTDQNKNLTTENKELKAEENRLTTENKGLTKKLSEAEEEAANKERENKE"
    "AIGTLKKTLDETVKDKIAKEQESKETIGTLKKTLDETVKDKIAKEQESKETIGTLKKTLDETVKDKIAKEQESKETIGTL"
    "KKILDETVKDKIAREQKSKQDIGALKQELAKKDEGNKVSEASRKGLRRDLDASREAKKQVEKDLANLTAELDKVKEEKQI"
    "SDASRQGLRRDLDASREAKKQVEKALEEANSKLAALEKLNKELEESKKLTEKEKAELQAKLEAEAKALKEQLAKQAEELA"
    "KLRAGKASDSQTPDAKPGNKVVPGKGQAPQAGTKPNQNKAPMKETKRQLPSTGETANPFFTAAALTVMATAGVAAVVKRK"
    "EEN"
)

EXAMPLES: dict[str, Example] = {
    "Cytoplasmic": Example(
        "Cytoplasmic",
        "GroEL chaperonin (GroL)",
        "Escherichia coli K-12",
        "negative",
        "P0A6F5",
        "Gneg-mPLoc / DeepLocPro sets (accession P0A6F5), identical to Swiss-Prot CH60_ECOLI",
        _GROEL,
        short="GroEL",
        aliases=("CH60_ECOLI", "psortb_gi17380384", "psortb_gi2493643"),
    ),
    "Cytoplasmic membrane": Example(
        "Cytoplasmic membrane",
        "Lactose permease (LacY)",
        "Escherichia coli K-12",
        "negative",
        "P02920",
        "LocTree3 Swiss-Prot set, entry LACY_ECOLI (also PSORTb 3.0 database)",
        _LACY,
        short="LacY",
        aliases=("LACY_ECOLI", "psortb_gi125941"),
    ),
    "Periplasmic": Example(
        "Periplasmic",
        "Maltose-binding protein (MalE)",
        "Escherichia coli K-12",
        "negative",
        "P0AEX9",
        "Gneg-mPLoc / DeepLocPro sets (accession P0AEX9), identical to MALE_ECOLI",
        _MALE,
        short="MalE",
        aliases=("MALE_ECOLI", "psortb_gi126695", "psortb_gi126696"),
    ),
    "Outer membrane": Example(
        "Outer membrane",
        "Outer membrane protein A (OmpA)",
        "Escherichia coli K-12",
        "negative",
        "P0A910",
        "LocTree3 Swiss-Prot set, entry OMPA_ECOLI (also PSORTb 3.0 database)",
        _OMPA,
        short="OmpA",
        aliases=("OMPA_ECOLI", "psortb_gi129135"),
    ),
    "Extracellular": Example(
        "Extracellular",
        "Hemolysin / cytolysin (HlyA)",
        "Vibrio cholerae",
        "negative",
        "P09545",
        "Gneg-mPLoc / DeepLocPro sets (accession P09545), identical to HLYA_VIBCH",
        _HLYA,
        short="HlyA",
        aliases=("HLYA_VIBCH", "psortb_gi12644111", "deepsece_T2SE-48"),
    ),
    "Cell wall & surface": Example(
        "Cell wall & surface",
        "M protein, serotype 6 (LPSTG sortase anchor)",
        "Streptococcus pyogenes",
        "positive",
        "P08089",
        "PSORTb 3.0 database (Cellwall, GI 126670; Swiss-Prot M6_STRPY)",
        _M6,
        short="M6 protein",
        aliases=("M6_STRPY", "psortb_gi126670"),
    ),
}
